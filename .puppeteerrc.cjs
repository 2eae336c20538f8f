// We drive Debian's /usr/bin/chromium; never download a browser (no network on CI).
module.exports = { skipDownload: true };
