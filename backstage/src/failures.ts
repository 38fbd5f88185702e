/*
 * What a failed read of the function says to the operator: an error's
 * message, the function's own error text, and what to do about a status.
 * The mesh read and the AsyncAPI documents' read share them.
 */
import { isError } from '@backstage/errors';
import { quote } from './announcement';

/** An error's message, with its cause's. */
export function describe(err: unknown): string {
  if (isError(err)) {
    const cause = isError(err.cause) ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** The function's JSON error message, if the body holds one. */
export function errorOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') {
      return `: ${quote(parsed.error)}`;
    }
  } catch {
    // not JSON
  }
  return '';
}

/** What to do about a status. */
export function hint(status: number, id: string): string {
  switch (status) {
    case 401:
      return `. The function rejected the token of catalog.providers.knativeEventMesh.${id} (token or tokenFile): set a valid ServiceAccount token (see the function's rbac/)`;
    case 403:
      return `. The token of catalog.providers.knativeEventMesh.${id} (token or tokenFile) may not read the mesh: bind its ServiceAccount to the function's reader ClusterRole`;
    default:
      return '';
  }
}
