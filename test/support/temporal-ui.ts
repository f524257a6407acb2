/**
 * Page object for the Temporal Web UI (2.54.x, as `temporal server start-dev` serves it), for
 * end-to-end tests that check what an operator sees and can do there:
 *
 * - the workflow list filtered by a visibility query (`listWorkflows`, `listWorkflowIds`,
 *   `waitForWorkflowInList`),
 * - a run's page (`openRun`), its Summary / Details and Current Details (`readSummaryAndDetails`,
 *   `readCurrentDetails`) and status (`readRunStatus`),
 * - the run's "More Actions" menu: Send an Update, Send a Signal, Terminate (`sendUpdate`,
 *   `sendSignal`, `terminate`).
 *
 * Everything reads and clicks the rendered page (roles, labels, visible text, the UI's
 * data-testids). The UI's own API traffic is watched only to know when the page has finished
 * loading or submitting, never as a source of the values returned, except `UpdateOutcome.result`,
 * which the UI does not display.
 *
 * Every wait polls against a deadline. Failures name what was not found; pass `screenshotPath`
 * to have a full-page screenshot saved there before the error is thrown.
 */
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type Locator, type Page, type Request, type Response } from 'playwright-core';

// Generous: on a busy machine the UI can take several seconds per step. Only failures wait this long.
const DEFAULT_TIMEOUT_MS = 60_000;

/** Thrown from inside a poll when waiting longer cannot help (e.g. the UI reports an error). */
class FatalUiError extends Error {}

export interface UiOptions {
  /** Temporal namespace; 'default' unless given. */
  namespace?: string;
  /** Deadline for the whole call (default 60 s). */
  timeoutMs?: number;
  /** Where to save a full-page screenshot if the call fails. */
  screenshotPath?: string;
}

export interface UiBrowser {
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/** Launches headless Chromium (`CHROMIUM_PATH`, else /usr/bin/chromium) with one page. */
export async function launchBrowser(options: { executablePath?: string; headless?: boolean } = {}): Promise<UiBrowser> {
  const browser = await chromium.launch({
    executablePath: options.executablePath ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: options.headless ?? true,
    args: ['--no-sandbox'],
  });
  try {
    // A desktop-sized viewport: below Tailwind's `sm`/`lg` breakpoints the UI swaps or hides
    // some of the controls used here (e.g. the Current Details refresh hint).
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'en-US', timezoneId: 'UTC' });
    const page = await context.newPage();
    return { browser, page, close: () => browser.close() };
  } catch (err) {
    await browser.close();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// URLs

/** The workflow list filtered by a visibility query, e.g. `EvaluationStatus="awaiting_review"`. */
export function workflowsUrl(baseUrl: string, query: string, namespace = 'default'): string {
  return `${trimSlash(baseUrl)}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
}

/**
 * A run's page. Without a run id the UI redirects to the latest run of the workflow id; without
 * a tab it redirects to the default tab (Timeline).
 */
export function runUrl(baseUrl: string, workflowId: string, runId?: string, namespace = 'default', tab?: RunTab): string {
  let url = `${trimSlash(baseUrl)}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  if (runId) url += `/${encodeURIComponent(runId)}`;
  if (runId && tab) url += `/${tab}`;
  return url;
}

/** Path segments of the run page's tabs. */
export type RunTab = 'timeline' | 'history' | 'user-metadata' | 'query' | 'search-attributes' | 'memo' | 'call-stack';

// ---------------------------------------------------------------------------------------------
// Workflow list

export interface WorkflowRow {
  workflowId: string;
  runId: string;
  /** As the list shows it, e.g. 'Running', 'Completed', 'Terminated'. */
  status: string;
  type: string;
}

export interface ListOptions extends UiOptions {
  /**
   * Visibility is eventually consistent: keep reloading the list until every one of these ids
   * is shown (with `exact`, until the list is exactly these ids, in any order).
   */
  expectIds?: string[];
  exact?: boolean;
  /** Keep reloading until this holds (overrides `expectIds`). */
  until?: (rows: WorkflowRow[]) => boolean;
  /** Pause between reloads (default 500 ms). */
  retryEveryMs?: number;
}

/**
 * Opens the workflow list filtered by `query` (through the URL's `query=` parameter, exactly as
 * the UI's own filter bar writes it) and returns the rows of its first page (up to 100 rows).
 * Throws at once if the UI reports the query as invalid.
 */
export async function listWorkflows(page: Page, baseUrl: string, query: string, options: ListOptions = {}): Promise<WorkflowRow[]> {
  const namespace = options.namespace ?? 'default';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const expectIds = options.expectIds;
  const accept =
    options.until ??
    (expectIds
      ? (rows: WorkflowRow[]) =>
          sameIds(
            rows.map((r) => r.workflowId),
            expectIds,
            options.exact ?? false,
          )
      : () => true);
  const deadline = Date.now() + timeoutMs;
  let shown: string[] | undefined;
  return step(page, `listing workflows matching ${JSON.stringify(query)}`, options, () =>
    poll(
      () =>
        `the workflow list to show ${expectIds ? `${options.exact ? 'exactly ' : ''}${JSON.stringify(expectIds)}` : 'the expected rows'}` +
        ` (last shown: ${shown ? JSON.stringify(shown) : 'nothing'})`,
      timeoutMs,
      async () => {
        // Each reload gets at least 5 s, so the last one may end a little after the deadline.
        const url = workflowsUrl(baseUrl, query, namespace);
        const rows = await loadWorkflowList(page, url, namespace, Math.max(5000, deadline - Date.now()));
        shown = rows.map((r) => r.workflowId);
        return accept(rows) ? rows : undefined;
      },
      options.retryEveryMs ?? 500,
    ),
  );
}

/** The workflow ids `listWorkflows` shows, in the list's order (newest first). */
export async function listWorkflowIds(page: Page, baseUrl: string, query: string, options: ListOptions = {}): Promise<string[]> {
  return (await listWorkflows(page, baseUrl, query, options)).map((r) => r.workflowId);
}

/** Reloads the filtered list until every id in `ids` is shown; returns all ids shown then. */
export async function waitForWorkflowInList(
  page: Page,
  baseUrl: string,
  query: string,
  ids: string | string[],
  options: Omit<ListOptions, 'expectIds'> = {},
): Promise<string[]> {
  return listWorkflowIds(page, baseUrl, query, { ...options, expectIds: typeof ids === 'string' ? [ids] : ids });
}

async function loadWorkflowList(page: Page, url: string, namespace: string, timeoutMs: number): Promise<WorkflowRow[]> {
  // The list API's answer says how many rows the table is about to render; waiting for the
  // table to show that many tells "still loading" apart from "loaded, N rows" (including 0).
  const listPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}/workflows`;
  const answered = page.waitForResponse((r) => r.request().method() === 'GET' && new URL(r.url()).pathname.endsWith(listPath), {
    timeout: timeoutMs,
  });
  answered.catch(() => undefined); // goto may throw first; don't leave this rejection unhandled
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  const response = await answered;
  const main = page.getByRole('main');
  if (!response.ok()) {
    // The UI shows the server's complaint (e.g. a syntax error) under this heading.
    const heading = main.getByRole('heading', { name: 'Error Filtering Workflows' });
    const why = await poll('the list error message', 5000, async () =>
      (await heading.isVisible()) ? ((await heading.locator('xpath=following-sibling::*[1]').textContent()) ?? '').trim() : undefined,
    ).catch(() => `HTTP ${response.status()}`);
    throw new FatalUiError(`the UI rejected the query: ${why}`);
  }
  const body = (await response.json().catch(() => ({}))) as { executions?: unknown[] };
  const expected = body.executions?.length ?? 0;
  const table = main.getByRole('table', { name: 'Workflows' });
  return poll(`the Workflows table to render ${expected} row(s)`, timeoutMs, async () => {
    if (!(await table.isVisible())) return undefined;
    const rows = await readWorkflowTable(table);
    if (rows.length !== expected) return undefined;
    if (expected === 0 && !(await main.getByRole('heading', { name: 'No Workflows Found' }).isVisible())) return undefined;
    return rows;
  });
}

async function readWorkflowTable(table: Locator): Promise<WorkflowRow[]> {
  // Columns are user-configurable, so cells are found by their header's text, not position.
  // textContent rather than innerText: the status badge is upper-cased by CSS only.
  const headers = (await table.locator('thead th').allTextContents()).map(clean);
  const column = (name: string) => headers.indexOf(name);
  const id = column('Workflow ID');
  if (id < 0) throw new Error(`the Workflows table has no "Workflow ID" column (columns: ${JSON.stringify(headers)})`);
  const rows: WorkflowRow[] = [];
  for (const tr of await table.locator('tbody > tr').all()) {
    const cells = (await tr.locator(':scope > td').allTextContents()).map(clean);
    const cell = (index: number) => (index >= 0 ? (cells[index] ?? '') : '');
    rows.push({ workflowId: cell(id), runId: cell(column('Run ID')), status: cell(column('Status')), type: cell(column('Type')) });
  }
  return rows;
}

function sameIds(shown: string[], expected: string[], exact: boolean): boolean {
  const set = new Set(shown);
  if (!expected.every((id) => set.has(id))) return false;
  return !exact || (set.size === new Set(expected).size && shown.length === set.size);
}

// ---------------------------------------------------------------------------------------------
// Run page

export interface OpenedRun {
  workflowId: string;
  runId: string;
}

/**
 * Opens a run's page (the latest run when `runId` is omitted) and waits until its header and
 * "More Actions" button are shown. Returns the run id the page shows. `tab` is honoured only
 * with a `runId` (without one the UI redirects to its default tab).
 */
export async function openRun(
  page: Page,
  baseUrl: string,
  workflowId: string,
  runId?: string,
  options: UiOptions & { tab?: RunTab } = {},
): Promise<OpenedRun> {
  const namespace = options.namespace ?? 'default';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return step(page, `opening workflow ${workflowId}${runId ? ` run ${runId}` : ''}`, options, async () => {
    await page.goto(runUrl(baseUrl, workflowId, runId, namespace, options.tab), { waitUntil: 'domcontentloaded', timeout: timeoutMs });
    const prefix = `${new URL(runUrl(baseUrl, workflowId, undefined, namespace)).pathname}/`;
    const heading = page.getByTestId('workflow-id-heading');
    const shownRunId = await poll(`the run page of ${workflowId} (header with its id and a "More Actions" button)`, timeoutMs, async () => {
      // Both the app-level and the run-level "not found" pages are final; say so at once.
      for (const text of ["Uh oh. There's an error.", 'This is not the Workflow you are looking for']) {
        if (await page.getByText(text).first().isVisible()) {
          const shown = clean(
            await page
              .locator('body')
              .innerText({ timeout: 1000 })
              .catch(() => ''),
          );
          throw new FatalUiError(`the UI shows "${text}" (page text: ${JSON.stringify(shown.slice(-200))})`);
        }
      }
      // Without a run id the UI first redirects to `<workflowId>/<runId>/<tab>`; acting before
      // that would lose whatever is opened (the page is re-rendered).
      const path = new URL(page.url()).pathname;
      if (!path.startsWith(prefix)) return undefined;
      const [shown, tab] = path.slice(prefix.length).split('/');
      if (!shown || !tab || (runId && decodeURIComponent(shown) !== runId)) return undefined;
      // The heading also holds a copy button whose icon title is text too: match the id exactly.
      if (!(await heading.getByText(workflowId, { exact: true }).isVisible())) return undefined;
      if (!(await page.getByRole('button', { name: 'More Actions' }).isVisible())) return undefined;
      return decodeURIComponent(shown);
    });
    return { workflowId, runId: shownRunId };
  });
}

/** The status badge of the open run page, e.g. 'Running', 'Completed', 'Terminated'. */
export async function readRunStatus(page: Page, options: UiOptions = {}): Promise<string> {
  return step(page, 'reading the run status', options, () =>
    poll('the run status badge', options.timeoutMs ?? DEFAULT_TIMEOUT_MS, async () => {
      // The badge is a role=status element; textContent because CSS upper-cases it on screen.
      const text = clean(await page.getByRole('main').getByTestId('execution-status').first().textContent({ timeout: 1000 }));
      return text || undefined;
    }),
  );
}

export interface SummaryAndDetails {
  /** The Summary as given at start (Markdown source), '' when the UI shows "No summary available". */
  summary: string;
  /** The Details as given at start (Markdown source), '' when the UI shows "No details available". */
  details: string;
}

export interface ReadMarkdownOptions extends UiOptions {
  /**
   * 'markdown' (default): the Markdown source the UI renders. 'text': the rendered text as shown
   * (headings, emphasis and list markers resolved).
   */
  format?: 'markdown' | 'text';
}

/** Reads the Summary and Details sections of the open run's "User Metadata" tab. */
export async function readSummaryAndDetails(page: Page, options: ReadMarkdownOptions = {}): Promise<SummaryAndDetails> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return step(page, 'reading the Summary and Details', options, async () => {
    await showUserMetadataTab(page, timeoutMs);
    const read = (section: 'summary' | 'details', placeholder: string) =>
      readMarkdownSection(page, section, `user-metadata-${section}`, placeholder, options.format ?? 'markdown', timeoutMs);
    return {
      summary: await read('summary', 'No summary available'),
      details: await read('details', 'No details available'),
    };
  });
}

export interface ReadCurrentDetailsOptions extends ReadMarkdownOptions {
  /**
   * Keep refreshing (the UI's "R" shortcut) until the Markdown source satisfies this, e.g. after
   * an update changed it. By default: until it is not empty.
   */
  until?: (markdown: string) => boolean;
  /** Return '' at once when the UI shows "No Current Details" instead of waiting for some. */
  allowEmpty?: boolean;
}

/**
 * Reads the "Current Details" section of the open run's "User Metadata" tab. The UI gets it by
 * querying the workflow (`__temporal_workflow_metadata`), so a worker must be polling the run's
 * task queue; without one the UI shows "No Current Details" (returned as '').
 */
export async function readCurrentDetails(page: Page, options: ReadCurrentDetailsOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const accept = options.until ?? ((markdown: string) => options.allowEmpty === true || markdown !== '');
  return step(page, 'reading the Current Details', options, async () => {
    await showUserMetadataTab(page, timeoutMs);
    let last: string | undefined;
    let refreshedAt = Date.now();
    const markdown = await poll(
      () =>
        `Current Details to ${options.until ? 'satisfy the given condition' : 'be shown'}` +
        ` (last shown: ${last === undefined ? 'nothing' : JSON.stringify(last)}; is a worker polling the task queue?)`,
      timeoutMs,
      async () => {
        last = await markdownSource(page.locator('iframe#user-metadata-current-details'), 'No Current Details');
        if (last !== undefined && accept(last)) return last;
        if (Date.now() - refreshedAt > 1500) {
          // The section is fetched once per page load; "R" is the UI's own "fetch again". Not
          // more often than this: each press is a workflow query.
          await page.keyboard.press('r');
          refreshedAt = Date.now();
        }
        return undefined;
      },
      250,
    );
    if (options.format !== 'text' || markdown === '') return markdown;
    return renderedText(page, 'user-metadata-current-details', markdown, timeoutMs);
  });
}

async function showUserMetadataTab(page: Page, timeoutMs: number): Promise<void> {
  const tab = page.getByRole('tab', { name: 'User Metadata' });
  await poll('the "User Metadata" tab of a run page', timeoutMs, async () => {
    if (!(await tab.isVisible())) return undefined;
    if ((await tab.getAttribute('aria-selected')) !== 'true') await tab.click({ timeout: 2000 });
    return (await page.getByRole('heading', { name: 'Current Details' }).isVisible()) ? true : undefined;
  });
}

async function readMarkdownSection(
  page: Page,
  what: string,
  frameId: string,
  placeholder: string,
  format: 'markdown' | 'text',
  timeoutMs: number,
): Promise<string> {
  const frame = page.locator(`iframe#${frameId}`);
  const empty = page.getByRole('main').getByText(placeholder, { exact: true });
  const markdown = await poll(`the ${what} section (a rendered frame or "${placeholder}")`, timeoutMs, async () =>
    (await empty.isVisible()) ? '' : markdownSource(frame, placeholder),
  );
  return format === 'text' && markdown !== '' ? renderedText(page, frameId, markdown, timeoutMs) : markdown;
}

/**
 * The UI renders each Markdown section in an iframe of its own `/render?content=<markdown>`
 * route; the iframes carry stable ids (user-metadata-summary, -details, -current-details) but no
 * test ids. The `content` parameter is exactly the Markdown the UI was given.
 */
async function markdownSource(frame: Locator, placeholder: string): Promise<string | undefined> {
  if ((await frame.count()) === 0) return undefined;
  const src = await frame.getAttribute('src', { timeout: 1000 });
  if (!src) return undefined;
  const content = new URL(src, 'http://ui.invalid').searchParams.get('content');
  if (content === null) return undefined;
  return content === placeholder ? '' : content;
}

/** The text the frame shows, once it has loaded the given Markdown (its src changes on refresh). */
async function renderedText(page: Page, frameId: string, markdown: string, timeoutMs: number): Promise<string> {
  return poll(`#${frameId} to render the Markdown`, timeoutMs, async () => {
    const frame = await (await page.locator(`iframe#${frameId}`).elementHandle({ timeout: 1000 }))?.contentFrame();
    if (!frame || new URL(frame.url()).searchParams.get('content') !== markdown) return undefined;
    // Block elements come out separated by runs of blank lines; keep one blank line between them.
    const text = (await frame.locator('body').innerText({ timeout: 1000 })).replace(/\n\s*\n\s*/g, '\n\n').trim();
    return text || undefined;
  });
}

// ---------------------------------------------------------------------------------------------
// Actions: Send an Update, Send a Signal, Terminate

export interface UpdateOutcome {
  /** true when the UI reported success (dialog closed, "Update successful"). */
  ok: boolean;
  /** What the UI showed: its success toast, or the error in the dialog (e.g. the validator's message). */
  message: string;
  /** The update id sent (the UI's "Update ID" field; a random UUID unless given). */
  updateId: string;
  /**
   * The update's return value, decoded from the UI's own API response when it is plain JSON.
   * The UI does not display it; it is here for convenience.
   */
  result?: unknown;
}

/**
 * Sends a Workflow Update through the open run page's "More Actions" > "Send an Update" dialog.
 * `jsonInput` is the single JSON argument as typed into the dialog's Data box ('' sends none).
 * Resolves with what the UI showed; a rejected update (validator or handler error) is not an
 * exception but `{ ok: false, message }`, and the dialog is closed again.
 */
export async function sendUpdate(
  page: Page,
  updateName: string,
  jsonInput: string,
  options: UiOptions & { updateId?: string } = {},
): Promise<UpdateOutcome> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const updateId = options.updateId ?? randomUUID();
  return step(page, `sending update "${updateName}"`, options, async () => {
    assertJson(jsonInput);
    const dialog = await openActionDialog(page, 'Send an Update', timeoutMs);
    await chooseHandlerName(page, dialog, 'update', updateName, timeoutMs);
    await fillJson(dialog, jsonInput, timeoutMs);
    await dialog.getByTestId('update-id').fill(updateId);
    const response = await submit(page, dialog, (r) => isAction(r, `/update/${updateName}`), timeoutMs);
    const outcome = await awaitOutcome(page, dialog, response, timeoutMs);
    return { ok: outcome.ok, message: outcome.message, updateId, ...(outcome.ok ? await decodeUpdateResult(response) : {}) };
  });
}

export interface SignalOutcome {
  ok: boolean;
  /** The success toast, or the error shown in the dialog. */
  message: string;
}

/** Sends a Signal through the open run page's "More Actions" > "Send a Signal" dialog. */
export async function sendSignal(page: Page, signalName: string, jsonInput: string, options: UiOptions = {}): Promise<SignalOutcome> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return step(page, `sending signal "${signalName}"`, options, async () => {
    assertJson(jsonInput);
    const dialog = await openActionDialog(page, 'Send a Signal', timeoutMs);
    await chooseHandlerName(page, dialog, 'signal', signalName, timeoutMs);
    await fillJson(dialog, jsonInput, timeoutMs);
    const response = await submit(page, dialog, (r) => isAction(r, `/signal/${signalName}`), timeoutMs);
    return awaitOutcome(page, dialog, response, timeoutMs);
  });
}

export interface TerminateOutcome {
  /** The UI's confirmation toast, e.g. "Workflow terminated." */
  message: string;
  /** The run's status badge afterwards ('Terminated'). */
  status: string;
}

/** Terminates the open run through "More Actions" > "Terminate", with `reason`. */
export async function terminate(page: Page, reason: string, options: UiOptions = {}): Promise<TerminateOutcome> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return step(page, 'terminating the run', options, async () => {
    const dialog = await openActionDialog(page, 'Terminate Workflow', timeoutMs, 'Terminate');
    // The "Reason (optional)" label is not tied to the input for assistive tech; its test id
    // and placeholder are.
    const input = dialog.getByTestId('workflow-termination-reason').or(dialog.getByPlaceholder('Enter a reason'));
    await input.first().fill(reason);
    const response = await submit(page, dialog, (r) => isAction(r, '/terminate'), timeoutMs, 'Terminate');
    const outcome = await awaitOutcome(page, dialog, response, timeoutMs);
    if (!outcome.ok) throw new Error(`the UI refused to terminate: ${outcome.message}`);
    const status = await poll('the run status to become Terminated', timeoutMs, async () => {
      const shown = clean(await page.getByRole('main').getByTestId('execution-status').first().textContent({ timeout: 1000 }));
      return shown.toLowerCase() === 'terminated' ? shown : undefined;
    });
    return { message: outcome.message, status };
  });
}

/** Opens "More Actions" > `item` and returns the dialog it opens. */
async function openActionDialog(page: Page, dialogName: string, timeoutMs: number, item = dialogName): Promise<Locator> {
  const more = page.getByRole('button', { name: 'More Actions' });
  // Each dialog is in the DOM twice (a closed template and the open one); role=dialog matches
  // only the open, visible one.
  const dialog = page.getByRole('dialog', { name: dialogName });
  let missingSince: number | undefined;
  await poll(`"More Actions" > "${item}" to open the "${dialogName}" dialog`, timeoutMs, async () => {
    if (await dialog.isVisible()) return true;
    // The button names its menu through aria-controls (other menus, time zone and user, exist
    // too); the page renders that menu twice, one copy hidden.
    const menuId = await more.getAttribute('aria-controls', { timeout: 1000 });
    if (!menuId) return undefined;
    const menu = page.locator(`[id="${menuId}"]`).filter({ visible: true });
    const entry = menu.getByRole('menuitem', { name: item, exact: true });
    if (!(await entry.isVisible())) {
      if (await menu.isVisible()) {
        // The menu lists only what the run's state allows (a closed run: just "Start Workflow
        // Like This One"); once it has stayed that way for a moment, say so.
        missingSince ??= Date.now();
        if (Date.now() - missingSince > 1000) {
          const offered = (await menu.getByRole('menuitem').allTextContents()).map(clean);
          throw new FatalUiError(`"More Actions" has no "${item}" (it offers ${JSON.stringify(offered)}; is the run still open?)`);
        }
      } else if (await more.isVisible()) {
        missingSince = undefined;
        await more.click({ timeout: 2000 });
      }
      return undefined;
    }
    if ((await entry.getAttribute('aria-disabled')) === 'true') {
      throw new FatalUiError(`"More Actions" > "${item}" is disabled (is the run still open?)`);
    }
    await entry.click({ timeout: 2000 });
    return undefined;
  });
  return dialog;
}

/**
 * Picks the update/signal name. When the worker answered the UI's metadata query, the name is a
 * drop-down of the handlers the workflow registered (each option shows name and description),
 * plus "Custom" for a typed name; without that answer it is a plain text box. Which one appears
 * can change while the query is in flight, so the choice is checked again before submitting.
 */
async function chooseHandlerName(page: Page, dialog: Locator, kind: 'update' | 'signal', name: string, timeoutMs: number): Promise<void> {
  const select = dialog.getByTestId(`${kind}-select-button`);
  const selected = dialog.getByTestId(`${kind}-select`);
  const typed = dialog.getByTestId(`${kind}-name`);
  const listbox = dialog.getByRole('listbox');
  // Match the option by its name line exactly: the option's accessible name also holds the
  // handler's description.
  const option = listbox.getByRole('option').filter({ has: page.getByText(name, { exact: true }) });
  const custom = listbox.getByRole('option').filter({ has: page.getByText('Custom', { exact: true }) });
  await poll(`the ${kind} name "${name}" to be chosen in the dialog`, timeoutMs, async () => {
    if (await typed.isVisible()) {
      if ((await typed.inputValue()) !== name) await typed.fill(name);
      return (await typed.inputValue()) === name ? true : undefined;
    }
    if (!(await select.isVisible())) return undefined;
    if ((await selected.inputValue()) === name) return true;
    if (!(await listbox.isVisible())) {
      await select.click({ timeout: 2000 });
      return undefined;
    }
    if ((await option.count()) > 0) await option.first().click({ timeout: 2000 });
    else await custom.click({ timeout: 2000 }); // not registered (yet): type it
    return undefined;
  });
}

/** Types JSON into the dialog's Data box (a code editor, not an <input>). */
async function fillJson(dialog: Locator, jsonInput: string, timeoutMs: number): Promise<void> {
  const editor = dialog.getByRole('textbox', { name: 'Data' });
  await editor.fill(jsonInput, { timeout: timeoutMs });
  // The editor pretty-prints its JSON when it loses focus, which makes the dialog taller and
  // moves its buttons: a click that itself causes that blur lands on the wrong spot (it either
  // misses Submit or hits the backdrop, which closes the dialog). Blur it first, then wait until
  // the editor holds the same value, reformatted or not.
  await editor.blur();
  const wanted = jsonInput.trim() === '' ? '' : JSON.stringify(JSON.parse(jsonInput));
  await poll('the Data box to hold the JSON input', timeoutMs, async () => {
    const text = (await editor.innerText()).trim();
    try {
      return (text === '' ? '' : JSON.stringify(JSON.parse(text))) === wanted ? true : undefined;
    } catch {
      return undefined;
    }
  });
}

/**
 * Clicks the dialog's submit button once its position has settled, and again if no request left
 * (a click can still be swallowed by a re-layout). Resolves with the UI's API response.
 */
async function submit(
  page: Page,
  dialog: Locator,
  isRequest: (request: Request) => boolean,
  timeoutMs: number,
  label = 'Submit',
): Promise<Response> {
  const button = dialog.getByRole('button', { name: label, exact: true });
  let sent: Request | undefined;
  const onRequest = (request: Request) => {
    if (!sent && isRequest(request)) sent = request;
  };
  page.on('request', onRequest);
  try {
    let lastBox = '';
    let clickedAt = 0;
    await poll(`"${label}" to send the request`, timeoutMs, async () => {
      if (sent) return true;
      if (Date.now() - clickedAt < 2000) return undefined; // give the last click time to act
      if (!(await dialog.isVisible())) throw new FatalUiError(`the dialog closed before "${label}" sent anything`);
      const error = await dialogError(dialog);
      if (error) throw new FatalUiError(`the dialog shows an error before submitting: ${error}`);
      if (!(await button.isEnabled())) return undefined;
      const box = JSON.stringify(await button.boundingBox());
      if (box !== lastBox) {
        lastBox = box; // still moving: look again next round
        return undefined;
      }
      await button.click({ timeout: 2000 });
      clickedAt = Date.now();
      return undefined;
    });
  } finally {
    page.off('request', onRequest);
  }
  const response = await poll('the response to the submitted request', timeoutMs, async () => (await sent!.response()) ?? undefined);
  return response;
}

/** Waits for the dialog to close (success, read from the toast) or to show an error (failure). */
async function awaitOutcome(page: Page, dialog: Locator, response: Response, timeoutMs: number): Promise<{ ok: boolean; message: string }> {
  let closedAt: number | undefined;
  const what =
    `the dialog to close or show an error (its request got HTTP ${response.status()};` +
    ' the dialog only reacts once the page has handled that)';
  const outcome = await poll(what, timeoutMs, async () => {
    if (!(await dialog.isVisible())) {
      closedAt ??= Date.now();
      const message = await toastText(page);
      // The toast normally precedes the closing; allow it a moment in case it does not.
      return message || Date.now() - closedAt > 3000 ? { ok: true, message } : undefined;
    }
    const error = await dialogError(dialog);
    return error ? { ok: false, message: error } : undefined;
  });
  if (!outcome.ok) {
    // Leave the page as it was: close the dialog with its own Cancel button.
    await dialog
      .getByRole('button', { name: 'Cancel' })
      .last()
      .click({ timeout: 2000 })
      .catch(() => undefined);
    const closed = async () => ((await dialog.isVisible()) ? undefined : true);
    await poll('the dialog to close after Cancel', 5000, closed).catch(() => undefined);
  }
  return outcome;
}

/**
 * The dialog's error: the form-level alert (message paragraph plus a "Stack Trace" box), or a
 * field's alert. The stack trace is left out.
 */
async function dialogError(dialog: Locator): Promise<string | undefined> {
  const texts = await dialog.getByRole('alert').evaluateAll((alerts) =>
    alerts.map((alert) => {
      const message = alert.querySelector('p');
      return ((message ?? alert).textContent ?? '').replace(/\s+/g, ' ').trim();
    }),
  );
  const shown = texts.filter((t) => t !== '');
  return shown.length > 0 ? shown.join('; ') : undefined;
}

async function toastText(page: Page): Promise<string> {
  // Toasts are announced through live regions; the newest one is the last non-empty entry.
  const texts = await page.locator('[data-testid^="toast-live-region"]').allInnerTexts();
  const lines = texts
    .flatMap((t) => t.split('\n'))
    .map((t) => t.trim())
    .filter((t) => t !== '');
  return lines.at(-1) ?? '';
}

function isAction(request: Request, suffix: string): boolean {
  if (request.method() !== 'POST') return false;
  const path = decodeURIComponent(new URL(request.url()).pathname);
  return path.includes('/api/v1/namespaces/') && path.endsWith(suffix);
}

function decodeUpdateResult(response: Response): Promise<{ result?: unknown }> {
  interface Payload {
    metadata?: Record<string, string>;
    data?: string;
  }
  return response
    .json()
    .then((body: { outcome?: { success?: { payloads?: Payload[] } } }) => {
      const payload = body.outcome?.success?.payloads?.[0];
      const encoding = payload?.metadata?.encoding && Buffer.from(payload.metadata.encoding, 'base64').toString();
      if (!payload?.data || encoding !== 'json/plain') return {};
      return { result: JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) as unknown };
    })
    .catch(() => ({}));
}

function assertJson(jsonInput: string): void {
  if (jsonInput.trim() === '') return;
  try {
    JSON.parse(jsonInput);
  } catch (err) {
    throw new FatalUiError(`input is not valid JSON (${(err as Error).message}): ${jsonInput}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Polling and errors

async function poll<T>(what: string | (() => string), timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined; // only an error from the latest look explains the timeout
    } catch (err) {
      if (err instanceof FatalUiError) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  const subject = typeof what === 'string' ? what : what();
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${subject}${lastError ? ` (last error: ${firstLine(lastError)})` : ''}`);
}

/** Runs one public operation; on failure saves the screenshot (if asked) and says what failed where. */
async function step<T>(page: Page, action: string, options: UiOptions, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    let shot = '';
    if (options.screenshotPath) {
      shot = await page
        .screenshot({ path: options.screenshotPath, fullPage: true })
        .then(() => `; screenshot: ${options.screenshotPath}`)
        .catch((shotErr: unknown) => `; screenshot failed: ${firstLine(shotErr)}`);
    }
    throw new Error(`Temporal UI: ${action} failed: ${err instanceof Error ? err.message : String(err)} (at ${page.url()}${shot})`, {
      cause: err,
    });
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

function clean(text: string | null | undefined): string {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
