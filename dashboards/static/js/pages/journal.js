// The Journal page: every practice session and application, with add, edit and delete.
import { applicationRecords, practiceRecords } from "../records.js";
import { signedInPage } from "../shell.js";

signedInPage(async (profile) => {
  const tz = profile.timezone;
  await Promise.all([practiceRecords({ tz }).reload(), applicationRecords({ tz }).reload()]);
});
