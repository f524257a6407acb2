/**
 * Where the scan thread starts: the compiled scan-thread.js in a build, else scan-thread.ts through
 * tsx's CommonJS hook (a worker thread does not inherit the loader that `--import tsx` gave the
 * main thread).
 */
const fs = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, 'scan-thread.js');
if (fs.existsSync(compiled)) {
  require(compiled);
} else {
  require('tsx/cjs/api').register();
  require('./scan-thread.ts');
}
