// npm's preinstall step: on Debian and Ubuntu, installs OpenBLAS (libopenblas-dev,
// from the distribution's own package archive) before the addon is built, so that
// `npm install` ends with the fast sgemm instead of the portable one. It runs apt-get
// only as root or through password-free sudo, never prompts, and never fails the
// install: otherwise it prints the command and the build falls back to the portable
// kernels. ELDER_NO_APT=1 (or ELDER_NO_OPENBLAS=1) skips it.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');

const PACKAGE = 'libopenblas-dev';
const ADVICE = `sudo apt-get install ${PACKAGE} && npm run build:native`;

/**
 * What to do, from the facts of this machine: 'skip' (nothing to do or not wanted),
 * 'apt' (run apt-get as root), 'sudo' (through sudo -n), or 'advise' (print the command).
 */
function plan({ env, platform, hasOpenblas, hasApt, isRoot, hasSudo }) {
  if (env.ELDER_NO_APT === '1' || env.ELDER_NO_OPENBLAS === '1') return 'skip';
  if (hasOpenblas || platform !== 'linux' || !hasApt) return 'skip';
  if (isRoot) return 'apt';
  if (hasSudo) return 'sudo';
  return 'advise';
}

function hasOpenblas() {
  const found = spawnSync(process.execPath, [require.resolve('./detect-openblas.cjs')], { encoding: 'utf8', env: { ...process.env, ELDER_NO_OPENBLAS: '' } });
  return found.status === 0 && found.stdout.trim() !== '';
}

function hasPasswordFreeSudo() {
  return fs.existsSync('/usr/bin/sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
}

function install(viaSudo) {
  const run = (args) =>
    execFileSync(viaSudo ? 'sudo' : 'apt-get', viaSudo ? ['-n', 'apt-get', ...args] : args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  process.stderr.write(`elder: installing ${PACKAGE} (Debian's OpenBLAS, the fast sgemm) with apt-get; ELDER_NO_APT=1 skips this\n`);
  try {
    run(['install', '-y', '-qq', PACKAGE]);
  } catch {
    // A fresh machine's package lists may be empty: update them once and retry.
    run(['update', '-qq']);
    run(['install', '-y', '-qq', PACKAGE]);
  }
}

function main() {
  const openblas = hasOpenblas();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const step = plan({
    env: process.env,
    platform: process.platform,
    hasOpenblas: openblas,
    hasApt: fs.existsSync('/usr/bin/apt-get'),
    isRoot,
    // Asking sudo runs a process; only worth it when it could matter.
    hasSudo: !openblas && !isRoot && hasPasswordFreeSudo(),
  });
  if (step === 'skip') return;
  if (step === 'advise') {
    process.stderr.write(`elder: OpenBLAS is not installed, so the addon gets the portable sgemm (about 3× slower); for the fast one: ${ADVICE}\n`);
    return;
  }
  try {
    install(step === 'sudo');
  } catch (error) {
    process.stderr.write(`elder: could not install ${PACKAGE} (${error.message.split('\n')[0]}); building the portable sgemm. For the fast one: ${ADVICE}\n`);
  }
}

module.exports = { plan };
if (require.main === module) main();
