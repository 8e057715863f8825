/** One target the bench holds the app to, met or missed by how much, and why (report-targets.ts). */
export interface Target {
  /** The row or section that shows it: `confirmation-<ms>`, `warm`, `batch`. */
  readonly section?: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
  /** "met" or "missed by …". */
  readonly verdict: string;
  readonly why: string;
}
