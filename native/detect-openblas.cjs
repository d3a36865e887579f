// Prints the folder holding OpenBLAS's cblas.h when the library can be linked,
// otherwise nothing. Used by binding.gyp to choose the sgemm backend at build time.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

if (process.env.ELDER_NO_OPENBLAS === '1') process.exit(0);

const includeDirs = [
  '/usr/include/x86_64-linux-gnu',
  '/usr/include/aarch64-linux-gnu',
  '/usr/include/openblas',
  '/usr/local/include',
  '/usr/include',
  '/opt/homebrew/opt/openblas/include',
  '/usr/local/opt/openblas/include',
];
const libDirs = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
];
const hasLib = libDirs.some((dir) =>
  ['libopenblas.so', 'libopenblas.dylib'].some((name) => fs.existsSync(path.join(dir, name))),
);
const header = includeDirs.find((dir) => {
  const file = path.join(dir, 'cblas.h');
  if (!fs.existsSync(file)) return false;
  // Reference-BLAS cblas.h lacks openblas_set_num_threads; insist on OpenBLAS's.
  const openblasConfig = path.join(dir, 'openblas_config.h');
  return fs.existsSync(openblasConfig) || fs.readFileSync(file, 'utf8').includes('openblas');
});
if (hasLib && header) process.stdout.write(header);
