/** The API as a client sees it: submit trivial evaluations, one or a batch at a time. */
export const TRIVIAL = { language: 'python', code: 'print(sum(range(10)))' } as const;

export class ApiClient {
  constructor(
    readonly url: string,
    private readonly apiKey: string,
  ) {}

  get headers(): Record<string, string> {
    return { 'content-type': 'application/json', authorization: `Bearer ${this.apiKey}` };
  }

  /** POSTs one trivial evaluation; resolves with its id and how long the API took to accept it. */
  async submit(): Promise<{ id: string; acceptMs: number; startedAt: number }> {
    const startedAt = Date.now();
    const t0 = performance.now();
    const res = await fetch(`${this.url}/v1/evaluations`, { method: 'POST', headers: this.headers, body: JSON.stringify(TRIVIAL) });
    const body = await res.text();
    if (res.status !== 202) throw new Error(`POST /v1/evaluations answered ${res.status}: ${body.slice(0, 500)}`);
    return { id: (JSON.parse(body) as { id: string }).id, acceptMs: performance.now() - t0, startedAt };
  }

  /**
   * POSTs `count` trivial evaluations as batches of at most 100. On 429/503 it waits as Retry-After
   * says and sends the rest again; the items a failed batch had already accepted are kept.
   */
  async submitBatch(count: number): Promise<string[]> {
    const ids: string[] = [];
    while (ids.length < count) {
      const size = Math.min(100, count - ids.length);
      const res = await fetch(`${this.url}/v1/evaluations/batch`, {
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify({ items: Array.from({ length: size }, () => TRIVIAL) }),
      });
      const body = JSON.parse(await res.text()) as {
        items?: Array<{ id: string }>;
        error?: { details?: { accepted?: Array<{ id: string }> } };
      };
      if (res.status === 202) {
        ids.push(...body.items!.map((item) => item.id));
      } else if (res.status === 429 || res.status === 503) {
        ids.push(...(body.error?.details?.accepted ?? []).map((item) => item.id));
        await new Promise((resolve) => setTimeout(resolve, 1000 * Number(res.headers.get('retry-after') ?? 1)));
      } else {
        throw new Error(`POST /v1/evaluations/batch answered ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
      }
    }
    return ids;
  }
}
