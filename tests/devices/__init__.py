"""The strap side through a real Bluetooth stack: Bumble's virtual link and TCP controllers, the codec's
vectors, the spool and uploader under faults."""
