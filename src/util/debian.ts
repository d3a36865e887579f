import { execFileSync } from 'node:child_process';

/** The installed version of a Debian package (as `dpkg-query` reports it), or `unknown` when dpkg has no record of it. */
export function debianVersion(name: string): string {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template literal
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
