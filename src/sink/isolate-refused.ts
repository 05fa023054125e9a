/**
 * What one send of a piece of a batch came to: `ok`; `refused`, the receiver would not take this
 * content (HTTP 400/413/422, SQS's sender faults), so a smaller piece may go through; or `failed`
 * for a reason that is not the content (retries used up on 5xx, the network), which halving
 * cannot cure.
 */
export type PieceVerdict = 'ok' | 'refused' | 'failed';

export interface SentPiece<T, A> {
  readonly rows: readonly T[];
  /** '' for the whole batch, then '0'/'1' per halving: stable, so a retried split sends the same keys. */
  readonly path: string;
  readonly verdict: PieceVerdict;
  readonly answer: A;
}

export interface Isolated<T, A> {
  /** Every row in exactly one piece, in order. */
  readonly pieces: readonly SentPiece<T, A>[];
  /** Calls of `send`, the first included (a sender may answer `refused` without sending, e.g. too big). */
  readonly sends: number;
}

/**
 * Sends `rows` as one piece; a piece refused for its content is cut in halves and each half sent,
 * down to single rows, so one bad row fails alone instead of taking its batch with it. Used by
 * direct mode, `replay`, the forwarder and queue mode's enqueue alike. Halves go one after the
 * other: a refusal is rare, and a batch's pieces then keep their order at the API.
 */
export async function sendIsolating<T, A>(
  rows: readonly T[],
  send: (piece: readonly T[], path: string) => Promise<{ verdict: PieceVerdict; answer: A }>,
): Promise<Isolated<T, A>> {
  const pieces: SentPiece<T, A>[] = [];
  let sends = 0;
  const go = async (piece: readonly T[], path: string): Promise<void> => {
    sends++;
    const { verdict, answer } = await send(piece, path);
    if (verdict !== 'refused' || piece.length < 2) {
      pieces.push({ rows: piece, path, verdict, answer });
      return;
    }
    const half = Math.ceil(piece.length / 2);
    await go(piece.slice(0, half), `${path}0`);
    await go(piece.slice(half), `${path}1`);
  };
  await go(rows, '');
  return { pieces, sends };
}
