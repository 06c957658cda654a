// The admin API as the pages call it: same origin, the session cookie, the CSRF token on
// every write, and errors turned into one exception with the API's message.

let csrfToken = null;

/** Remembers the session's CSRF token (null when signed out). */
export function useSession(session) {
  csrfToken = session ? session.csrf_token || null : null;
}

/** A refused or failed call: `status` and the API's `message`. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Calls `/v1{path}`; answers the JSON body (null for 204), or throws ApiError. A 401
 *  outside the session calls also tells the page, which shows the sign-in screen. */
export async function api(method, path, body) {
  return apiText(method, path, body === undefined ? undefined : JSON.stringify(body));
}

/** Like api(), with the body already written as JSON text (so that a caller knows where
 *  each value is, for the positions in the API's errors). */
export async function apiText(method, path, text) {
  const headers = { Accept: 'application/json' };
  if (text !== undefined) headers['Content-Type'] = 'application/json';
  if (csrfToken && !SAFE.has(method)) headers['X-CSRF-Token'] = csrfToken;
  let response;
  try {
    response = await fetch(`/v1${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      body: text,
    });
  } catch (error) {
    throw new ApiError(0, `keygate cannot be reached (${error.message})`);
  }
  if (response.status === 204) return null;
  const answer = await response.text();
  let data = null;
  try {
    data = answer ? JSON.parse(answer) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && (data.message || (data.error && data.error.message)))
      || `${response.status} ${response.statusText}`;
    if (response.status === 401 && !path.startsWith('/session')) {
      window.dispatchEvent(new CustomEvent('keygate:signed-out'));
    }
    throw new ApiError(response.status, message);
  }
  return data;
}

/** Every item of a listing, following its `next` cursor (at most 50 pages). */
export async function all(path) {
  const items = [];
  let after = null;
  for (let page = 0; page < 50; page += 1) {
    const join = path.includes('?') ? '&' : '?';
    const cursor = after ? `&after=${encodeURIComponent(after)}` : '';
    const listing = await api('GET', `${path}${join}limit=1000${cursor}`);
    items.push(...listing.data);
    if (!listing.next) break;
    after = listing.next;
  }
  return items;
}

/** A path segment, escaped. */
export function part(text) {
  return encodeURIComponent(text);
}
