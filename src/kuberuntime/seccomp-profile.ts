// The check of a Localhost seccomp profile before its container is created: the file under
// <rootDir>/seccomp must exist, be a regular file and hold a JSON object. Upstream leaves this to
// the runtime (CreateContainerError); tskubelet refuses first, as CreateContainerConfigError, so
// that a missing or empty profile can never end in a container that runs unconfined.
import { readFile, stat } from 'node:fs/promises';
import { errorMessage, invalidInput } from '../common/errors.ts';

/** Profiles larger than this are refused, bytes (real profiles are a few tens of KiB). */
const MAX_PROFILE_BYTES = 4 * 1024 * 1024;

/** Resolves when `path` holds a usable seccomp profile; rejects InvalidInput with the reason otherwise. */
export async function checkLocalhostSeccompProfile(path: string): Promise<void> {
  const fail = (why: string, cause?: unknown): Error => invalidInput(`cannot use Localhost seccomp profile "${path}": ${why}`, cause);
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw fail((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : errorMessage(err), err);
  }
  if (!st.isFile()) throw fail('not a regular file');
  if (st.size > MAX_PROFILE_BYTES) throw fail(`larger than ${MAX_PROFILE_BYTES} bytes`);
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw fail(errorMessage(err), err);
  });
  if (text.trim() === '') throw fail('the file is empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON: ${errorMessage(err)}`, err);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fail('not a JSON object');
}
