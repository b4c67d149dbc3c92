"""`python -m service.cli`: the same command line as `chinup`."""

from service.cli.main import main

main()
