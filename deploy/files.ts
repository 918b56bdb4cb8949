/**
 * Reading local files that may be absent (OpenSSH's files, caches): absence
 * is an answer, any other failure an error.
 *
 * @module
 */

/** Whether `file` exists. @throws anything but `NotFound` (a permission error, say). */
export async function exists(file: string): Promise<boolean> {
  try {
    await Deno.stat(file);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The text of `file`, or undefined when there is none. @throws anything but `NotFound`. */
export async function readTextIfPresent(file: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
