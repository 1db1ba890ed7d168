// comment match (libxt_comment.c): up to 255 bytes, no effect on packets.
import { parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { saveString, x6Seen } from '../lib.ts';
import { truncateBytes } from '../target/LOG.ts';

export interface CommentData {
  comment: string;
  seen?: string[];
}

export const comment: MatchModule<CommentData> = {
  name: 'comment',
  options: [{ name: 'comment', args: 1, invertible: true }],
  init: () => ({ comment: '' }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'comment', option, invert, false);
    const c = args[0]!;
    // XT_MAX_COMMENT_LEN is 256 including the terminator: longer comments are cut, as iptables-nft does.
    d.comment = truncateBytes(c, 255);
    return d;
  },
  finalCheck(d) {
    if (!d.seen?.includes('comment')) throw parameterProblem('comment: option "--comment" must be specified\n');
  },
  print: (d) => `/* ${d.comment} */`,
  save: (d) => `--comment ${saveString(d.comment)}`,
  equal: (a, b) => a.comment === b.comment,
  compile: () => ({}),
};
