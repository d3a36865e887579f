import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { runBenchmark } from '../src/eval/runner.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { startServer } from '../src/server/server.js';
import { EditService } from '../src/server/service.js';
import { repoRoot, tinyGpt2Dir } from './helpers.js';
import { decodePng, distinctColours } from './png.js';
import { TOKEN } from './service-client.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
// CI installs Debian's chromium and sets this, so a missing browser fails there instead of skipping.
const required = process.env.ELDER_REQUIRE_BROWSER === '1';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-web-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('the web page: submit an edit, watch it apply, ask, see the route, retract; evaluation plot shown', {
  timeout: 180_000,
  skip: !hasChromium && !required && `no ${CHROMIUM} (apt-get install chromium)`,
}, async (t) => {
  assert.ok(hasChromium, `${CHROMIUM} is missing: apt-get install chromium`);
  // A small real evaluation, so the page has a report and a plot to show.
  const evalDir = path.join(tmp, 'eval');
  runBenchmark(
    {
      modelDir: tinyGpt2Dir,
      dataFile: path.join(repoRoot, 'bench/data/edits-small.jsonl'),
      edits: 3,
      methods: ['elder'],
      seed: 1,
      outDir: evalDir,
      batchSize: 4,
      evalEvery: 2,
      settings: { elder: { lr: 1e-2, iterations: 5 } },
      localityTokens: 4,
    },
    () => {},
  );
  // The page serves elder-facts with ELDER's defaults: the edit a new user would try, read as they would read it.
  const service = await EditService.open({ modelDir: defaultModelDir(), stateDir: path.join(tmp, 'state') });
  const server = await startServer(service, { port: 0, token: TOKEN, evalDir });
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // This machine's network is closed: without these Chromium keeps trying Google's hosts.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => message.type() === 'error' && problems.push(`console: ${message.text()}`));
    await page.goto(server.url);
    await page.locator('#summary', { hasText: 'generation 0' }).waitFor();

    // The evaluation: its table and its plot (loaded, not broken).
    await page.locator('#evaluation-section').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#evaluation tbody tr').count(), 1);
    assert.equal(await page.locator('#evaluation tbody tr td').first().textContent(), 'elder');
    await page.locator('#evaluation-plot').waitFor({ state: 'visible' });
    await page.waitForFunction(() => (document.querySelector('#evaluation-plot') as HTMLImageElement).naturalWidth > 0);

    // A write with a wrong token is refused and says why.
    await page.fill('#token', 'not-the-token-000000');
    await page.fill('#edit-prompt', 'The capital of France is');
    await page.fill('#edit-target', 'Lyon');
    await page.fill('#edit-subject', 'France');
    await page.click('#edit-button');
    await page.locator('#edit-message.error', { hasText: 'not valid' }).waitFor();
    assert.equal(service.store!.counts().queued + service.store!.counts().applied, 0);

    // Submit, and watch the status reach applied.
    await page.fill('#token', TOKEN);
    await page.fill('#edit-id', 'web-1');
    await page.click('#edit-button');
    await page.locator('#edit-message', { hasText: 'Queued web-1.' }).waitFor();
    await page.locator('#edits tr[data-id="web-1"] td.status-applied').waitFor({ timeout: 60_000 });
    await page.locator('#summary', { hasText: 'generation 1' }).waitFor();
    // The page says whether the applied edit holds, beside the answer the check read: the new object, then the end.
    await page.locator('#edits tr[data-id="web-1"] td.holds', { hasText: 'yes' }).waitFor();
    assert.equal(await page.locator('#edits tr[data-id="web-1"] td.answer').textContent(), ' Lyon.');
    assert.equal(service.store!.get('web-1')!.subject, 'France', 'the subject typed in the form reaches the store');

    // Ask: the answer, the route, the distance and the experts per edited block.
    await page.fill('#ask-prompt', 'The capital of France is');
    await page.fill('#ask-max-tokens', '12');
    await page.click('#ask-button');
    await page.locator('#answer').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#answer-text').textContent(), ' Lyon.', 'the answer ends, and the end-of-text token is not shown');
    assert.equal(await page.locator('#answer-route').textContent(), 'answered by the edited model');
    assert.equal(await page.locator('#answer-distance').textContent(), '0');
    assert.equal(await page.locator('#answer-nearest').textContent(), '(edit web-1)');
    const expertRows = await page.locator('#answer-experts tbody tr').allTextContents();
    assert.equal(expertRows.length, 2);
    assert.match(expertRows[0], /^5\d, \d$/);

    // The page rendered: a real screenshot with text, tables and the plot.
    const shot = await page.screenshot({ fullPage: true });
    const screenshotFile = path.join(process.env.ELDER_SCREENSHOT_DIR ?? tmp, 'elder-serve-page.png');
    fs.writeFileSync(screenshotFile, shot);
    const image = decodePng(shot);
    assert.ok(image.width === 1200 && image.height >= 1000, `screenshot ${image.width}×${image.height}`);
    assert.ok(distinctColours(image) > 50, 'the screenshot is nearly uniform: the page did not render');
    // The header band holds the title in dark text on the light background.
    assert.ok(distinctColours(image, { x0: 0, y0: 0, x1: 1200, y1: 80 }) > 5, 'the header is blank');
    t.diagnostic(`screenshot ${image.width}×${image.height}, ${distinctColours(image)} colours: ${screenshotFile}`);

    // Retract from the table: the edit's inputs defer to the base model again.
    await page.click('#edits tr[data-id="web-1"] button.retract');
    await page.locator('#edits tr[data-id="web-1"] td.status-retracted').waitFor();
    await page.click('#ask-button');
    await page.locator('#answer-route', { hasText: 'deferred to the base model' }).waitFor();
    assert.equal(await page.locator('#answer-text').textContent(), ' Paris.');
    assert.equal(service.store!.get('web-1')!.status, 'retracted');
    assert.deepEqual(
      problems.filter((p) => !p.includes('401')),
      [],
      problems.join('\n'),
    );
  } finally {
    await browser?.close();
    await server.close();
    await service.close();
  }
});
