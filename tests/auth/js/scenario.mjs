// What the app does with Momento's /auth/v1, through the real supabase-js client (npm).
//
// Run by tests/auth/test_supabase_js.py, which serves the app on 127.0.0.1 and passes:
//   MOMENTO_PLAIN_URL    an instance with email confirmation off (and the default 60 s between
//                        two mails to one address)
//   MOMENTO_CONFIRM_URL  an instance with email confirmation on (no wait between mails, the
//                        callback below allowed as a redirect)
//   MOMENTO_MAIL_URL     the test's mailbox: GET ?to=<address> lists the mails the test's SMTP
//                        server caught for that address, oldest first, each with its code
//                        (otp), token_hash, type and the link's path
//   MOMENTO_REDIRECT     the app's callback for PKCE links
// Both instances refresh with a reuse interval of 0, so any retry is "after the interval".
// Every check runs in order; the first failure prints what was expected and exits 1.

import { isDeepStrictEqual } from 'node:util'
import { createClient, AuthApiError, AuthWeakPasswordError } from '@supabase/supabase-js'

const PLAIN = need('MOMENTO_PLAIN_URL')
const CONFIRM = need('MOMENTO_CONFIRM_URL')
const MAIL = need('MOMENTO_MAIL_URL')
const REDIRECT = need('MOMENTO_REDIRECT')
// Momento ignores the API key; a Supabase project needs one, so the client insists on it.
const KEY = 'momento-has-no-anon-key'
const PASSWORD = 'correct horse battery'
const VERSION = '2024-01-01'

function need(name) {
  const value = process.env[name]
  if (!value) {
    console.error(`FAIL: ${name} is not set (run through tests/auth/test_supabase_js.py)`)
    process.exit(2)
  }
  return value
}

class Failure extends Error {}

function check(condition, message, ...details) {
  if (!condition) {
    const shown = details.map((d) => (typeof d === 'string' ? d : JSON.stringify(d)))
    throw new Failure([message, ...shown].join(' | '))
  }
}

function equal(actual, expected, what) {
  check(
    isDeepStrictEqual(actual, expected),
    `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
  )
}

// Realtime is not used here. Before Node.js 22 there is no global WebSocket, and supabase-js
// refuses to build a client without a transport for it: this one is never opened.
class NoWebSocket {
  constructor() {
    throw new Error('the scenario does not use realtime')
  }
}

// A client of its own (its own in-memory session), as another phone or app install would be.
function client(url = PLAIN, flowType = 'implicit') {
  return createClient(url, KEY, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, flowType },
    realtime: { transport: NoWebSocket },
  }).auth
}

// The data of a call that must succeed.
function ok(result, what) {
  check(!result.error, `${what} failed`, String(result.error), result.error ?? '')
  return result.data
}

// A call that must fail with this AuthApiError code and HTTP status.
function fails(result, code, status, what) {
  const error = result.error
  check(error, `${what}: expected the error ${code} (${status}), got success`, result.data ?? '')
  check(
    error.code === code && error.status === status,
    `${what}: expected ${code} (${status}), got ${error.code} (${error.status}): ${error.message}`,
  )
  return error
}

let counter = 0
function address(name) {
  counter += 1
  return `${name}.${process.pid}.${counter}@example.com`
}

async function mails(to, atLeast) {
  // The mail is caught before the request that sends it answers; the short wait only guards
  // against a slow SMTP handshake.
  for (let i = 0; i < 40; i++) {
    const r = await fetch(`${MAIL}?to=${encodeURIComponent(to)}`)
    check(r.ok, `mailbox answered ${r.status}`)
    const found = await r.json()
    if (found.length >= atLeast) return found
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Failure(`expected ${atLeast} mail(s) to ${to}`)
}

async function lastMail(to, count) {
  const found = await mails(to, count)
  equal(found.length, count, `mails to ${to}`)
  return found[found.length - 1]
}

// Follows a mailed PKCE link as the phone's browser would: the code is in the redirect's query.
async function codeFromLink(base, mail) {
  const r = await fetch(new URL(mail.path, base), { redirect: 'manual' })
  equal(r.status, 303, 'status of the followed link')
  const location = new URL(r.headers.get('location'))
  equal(`${location.origin}${location.pathname}`, REDIRECT, 'redirect target')
  const code = location.searchParams.get('code')
  check(code, 'the redirect carries ?code=', location.href)
  return code
}

async function signedUp(url = PLAIN) {
  const email = address('user')
  const auth = client(url)
  ok(await auth.signUp({ email, password: PASSWORD }), 'signUp')
  return { email, auth }
}

async function signedIn(email, password = PASSWORD, url = PLAIN) {
  const auth = client(url)
  const data = ok(await auth.signInWithPassword({ email, password }), `signIn ${email}`)
  return { auth, session: data.session }
}

// --- the flows -----------------------------------------------------------------------------

const steps = []
function step(name, run) {
  steps.push([name, run])
}

step('signUp with data.username, then signInWithPassword', async () => {
  const email = address('ana')
  const auth = client()
  const data = ok(
    await auth.signUp({ email, password: PASSWORD, options: { data: { username: 'ana' } } }),
    'signUp',
  )
  check(data.session?.access_token, 'confirmation off: signUp returns a session', data)
  equal(data.user.email, email, 'user.email')
  equal(data.user.user_metadata.username, 'ana', 'user_metadata.username')
  equal(data.user.is_anonymous, false, 'is_anonymous')
  // An empty identities list is how the clients recognise an address already registered.
  equal(
    data.user.identities.map((i) => i.provider),
    ['email'],
    'identities',
  )
  fails(
    await client().signUp({ email, password: PASSWORD }),
    'user_already_exists',
    422,
    'a second signUp',
  )

  const signed = ok(await auth.signInWithPassword({ email, password: PASSWORD }), 'signIn')
  check(signed.session.expires_at > Date.now() / 1000, 'expires_at in the future', signed.session)
  equal(signed.session.token_type, 'bearer', 'token_type')
  equal(signed.user.id, data.user.id, 'signed-in user id')
  const current = ok(await auth.getSession(), 'getSession')
  equal(current.session.access_token, signed.session.access_token, 'the stored session')
})

step('refreshSession rotates the refresh token; getUser reads the user', async () => {
  const { email, auth } = await signedUp()
  const before = ok(await auth.getSession(), 'getSession').session
  const refreshed = ok(await auth.refreshSession(), 'refreshSession')
  check(refreshed.session.refresh_token !== before.refresh_token, 'a new refresh token')
  const got = ok(await auth.getUser(), 'getUser')
  equal(got.user.email, email, 'getUser email')
  equal(got.user.id, before.user.id, 'getUser id')
})

step('two concurrent refreshes of one token both get a working session', async () => {
  const { email, auth } = await signedUp()
  const token = ok(await auth.getSession(), 'getSession').session.refresh_token
  // Two installs (each its own client, so the client's own de-duplication does not apply),
  // one token, at the same moment: with a reuse interval of 0 the loser is answered as a
  // retry of the winner, with the active token.
  const [a, b] = [client(), client()]
  const [ra, rb] = await Promise.all([
    a.refreshSession({ refresh_token: token }),
    b.refreshSession({ refresh_token: token }),
  ])
  const [sa, sb] = [ok(ra, 'first refresh').session, ok(rb, 'second refresh').session]
  equal(sa.refresh_token, sb.refresh_token, 'both answered with the active token')
  for (const [who, c] of [['first', a], ['second', b]]) {
    equal(ok(await c.getUser(), `getUser (${who})`).user.email, email, `${who} session's user`)
  }
  ok(await a.refreshSession(), 'the session goes on refreshing')
})

step('a retried refresh keeps the session alive (issue 13.1); an older token ends it', async () => {
  const { email, auth } = await signedUp()
  const first = ok(await auth.getSession(), 'getSession').session.refresh_token
  const second = ok(await auth.refreshSession(), 'refresh').session
  // The answer was lost (app killed mid-refresh): the app retries with the token it had,
  // a second later, well past the reuse interval of 0.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const retry = client()
  const retried = ok(await retry.refreshSession({ refresh_token: first }), 'the retried refresh')
  equal(retried.session.refresh_token, second.refresh_token, 'the retry gets the active token')
  equal(ok(await retry.getUser(), 'getUser after the retry').user.email, email, 'user')
  // The session the first answer gave is still alive.
  equal(ok(await auth.getUser(), 'getUser of the first answer').user.email, email, 'user')
  const third = ok(await auth.refreshSession(), 'refresh after the retry').session

  // A token older than the parent of the active one: reuse, the session is revoked.
  fails(
    await client().refreshSession({ refresh_token: first }),
    'refresh_token_already_used',
    400,
    'a token two rotations old',
  )
  fails(
    await client().refreshSession({ refresh_token: third.refresh_token }),
    'refresh_token_not_found',
    400,
    'the active token of the revoked session',
  )
})

step('updateUser: data merges, password changes', async () => {
  const email = address('meta')
  const auth = client()
  ok(
    await auth.signUp({ email, password: PASSWORD, options: { data: { username: 'meta' } } }),
    'signUp',
  )
  const other = await signedIn(email)
  let user = ok(await auth.updateUser({ data: { display: 'Meta', theme: 'dark' } }), 'data').user
  equal(user.user_metadata, { username: 'meta', display: 'Meta', theme: 'dark' }, 'merged')
  user = ok(await auth.updateUser({ data: { theme: null } }), 'data with a null').user
  equal(user.user_metadata, { username: 'meta', display: 'Meta' }, 'null deletes')

  fails(await auth.updateUser({ password: PASSWORD }), 'same_password', 422, 'same password')
  ok(await auth.updateUser({ password: 'a brand new secret' }), 'new password')
  fails(
    await client().signInWithPassword({ email, password: PASSWORD }),
    'invalid_credentials',
    400,
    'the old password',
  )
  await signedIn(email, 'a brand new secret')
  // A password change ends the other sessions, not this one.
  fails(await other.auth.refreshSession(), 'refresh_token_not_found', 400, 'another session')
  ok(await auth.refreshSession(), 'this session goes on')
})

step('email change waits for the links to both addresses (secure change)', async () => {
  const { email, auth } = await signedUp()
  const newEmail = address('moved')
  const taken = (await signedUp()).email
  fails(await auth.updateUser({ email: taken }), 'email_exists', 422, 'a taken address')

  const user = ok(await auth.updateUser({ email: newEmail }), 'updateUser email').user
  equal(user.email, email, 'the address until both links are followed')
  equal(user.new_email, newEmail, 'new_email')
  fails(
    await client().signInWithPassword({ email: newEmail, password: PASSWORD }),
    'invalid_credentials',
    400,
    'sign-in with the new address before confirmation',
  )
  const toCurrent = await lastMail(email, 1)
  const toNew = await lastMail(newEmail, 1)
  equal([toCurrent.type, toNew.type], ['email_change', 'email_change'], 'mail types')

  // The code mailed to the current address, typed with it: accepted, not applied yet.
  const half = ok(
    await client().verifyOtp({ email, token: toCurrent.otp, type: 'email_change' }),
    'verifyOtp (current address)',
  )
  equal([half.session, half.user], [null, null], 'first of two links: no session')
  equal(ok(await auth.getUser(), 'getUser').user.email, email, 'still the current address')

  // The new address's link (its token_hash): applied, and a session for the new address.
  const done = ok(
    await client().verifyOtp({ token_hash: toNew.token_hash, type: 'email_change' }),
    'verifyOtp (new address)',
  )
  equal(done.user.email, newEmail, 'the changed address')
  check(!done.user.new_email, 'no new_email left', done.user)
  check(done.session?.access_token, 'the second link signs in', done)
  await signedIn(newEmail)
  fails(
    await client().signInWithPassword({ email, password: PASSWORD }),
    'invalid_credentials',
    400,
    'the old address',
  )
  fails(
    await client().verifyOtp({ token_hash: toNew.token_hash, type: 'email_change' }),
    'otp_expired',
    403,
    'a link used twice',
  )
})

step('recovery: resetPasswordForEmail, verifyOtp recovery, updateUser password', async () => {
  const { email } = await signedUp()
  const auth = client()
  ok(await auth.resetPasswordForEmail(email), 'resetPasswordForEmail')
  const mail = await lastMail(email, 1)
  equal(mail.type, 'recovery', 'mail type')
  fails(
    await client().verifyOtp({ email, token: '000000', type: 'recovery' }),
    'otp_expired',
    403,
    'a wrong code',
  )
  const data = ok(await auth.verifyOtp({ email, token: mail.otp, type: 'recovery' }), 'verifyOtp')
  check(data.session?.access_token, 'a recovery session', data)
  ok(await auth.updateUser({ password: 'recovered secret' }), 'the new password')
  await signedIn(email, 'recovered secret')
  // A second mail inside the send interval (60 s here) is refused, not silently dropped.
  fails(
    await client().resetPasswordForEmail(email),
    'over_email_send_rate_limit',
    429,
    'a second recovery mail at once',
  )
  equal((await mails(email, 1)).length, 1, 'no second mail')
  // An unknown address answers as any other.
  ok(await client().resetPasswordForEmail(address('nobody')), 'recovery for an unknown address')
})

step('PKCE: signUp with confirmation, the link, exchangeCodeForSession', async () => {
  const email = address('pkce')
  const auth = client(CONFIRM, 'pkce')
  const data = ok(
    await auth.signUp({ email, password: PASSWORD, options: { emailRedirectTo: REDIRECT } }),
    'signUp',
  )
  equal(data.session, null, 'confirmation on: no session before the link')
  fails(
    await client(CONFIRM).signInWithPassword({ email, password: PASSWORD }),
    'email_not_confirmed',
    400,
    'sign-in before confirmation',
  )
  const mail = await lastMail(email, 1)
  equal(mail.type, 'signup', 'mail type')
  check(mail.token_hash.startsWith('pkce_'), 'a PKCE link', mail)
  const code = await codeFromLink(CONFIRM, mail)
  const exchanged = ok(await auth.exchangeCodeForSession(code), 'exchangeCodeForSession')
  equal(exchanged.user.email, email, 'user')
  check(exchanged.user.email_confirmed_at, 'confirmed', exchanged.user)
  equal(ok(await auth.getUser(), 'getUser').user.id, exchanged.user.id, 'getUser')
})

step('PKCE: resetPasswordForEmail, the link, exchangeCodeForSession, new password', async () => {
  const email = address('pkcereset')
  const first = client(CONFIRM, 'pkce')
  ok(await first.signUp({ email, password: PASSWORD, options: { emailRedirectTo: REDIRECT } }), 'signUp')
  ok(await first.exchangeCodeForSession(await codeFromLink(CONFIRM, await lastMail(email, 1))), 'confirm')

  const auth = client(CONFIRM, 'pkce')
  ok(await auth.resetPasswordForEmail(email, { redirectTo: REDIRECT }), 'resetPasswordForEmail')
  const mail = await lastMail(email, 2)
  equal(mail.type, 'recovery', 'mail type')
  const exchanged = ok(
    await auth.exchangeCodeForSession(await codeFromLink(CONFIRM, mail)),
    'exchangeCodeForSession',
  )
  equal(exchanged.user.email, email, 'user')
  ok(await auth.updateUser({ password: 'pkce recovered' }), 'the new password')
  await signedIn(email, 'pkce recovered', CONFIRM)
})

step('resend type signup mails a new code that replaces the old one', async () => {
  const email = address('resend')
  const auth = client(CONFIRM)
  ok(await auth.signUp({ email, password: PASSWORD }), 'signUp')
  const old = await lastMail(email, 1)
  ok(await auth.resend({ type: 'signup', email }), 'resend')
  const fresh = await lastMail(email, 2)
  equal(fresh.type, 'signup', 'mail type')
  check(fresh.otp !== old.otp, 'a new code', old, fresh)
  fails(
    await client(CONFIRM).verifyOtp({ email, token: old.otp, type: 'signup' }),
    'otp_expired',
    403,
    'the replaced code',
  )
  const data = ok(await auth.verifyOtp({ email, token: fresh.otp, type: 'signup' }), 'verifyOtp')
  check(data.user.email_confirmed_at, 'confirmed', data.user)
  await signedIn(email, PASSWORD, CONFIRM)
  // Nothing pending any more: GoTrue answers as for anyone and mails nothing.
  ok(await auth.resend({ type: 'signup', email }), 'resend once confirmed')
  equal((await mails(email, 2)).length, 2, 'nothing mailed once confirmed')
})

step('signOut scopes: others, local, global', async () => {
  const { email } = await signedUp()
  const [a, b, c] = [await signedIn(email), await signedIn(email), await signedIn(email)]
  const bystander = await signedUp()

  ok(await a.auth.signOut({ scope: 'others' }), 'signOut others')
  ok(await a.auth.getUser(), 'getUser of the session that stayed')
  check((await a.auth.getSession()).data.session, 'others keeps this session in the client')
  for (const [who, s] of [['b', b], ['c', c]]) {
    const gone = await client().getUser(s.session.access_token)
    check(gone.error, `session ${who} ended by others`, gone.data)
    fails(
      await client().refreshSession({ refresh_token: s.session.refresh_token }),
      'refresh_token_not_found',
      400,
      `refresh of session ${who}`,
    )
  }

  const d = await signedIn(email)
  ok(await a.auth.signOut({ scope: 'local' }), 'signOut local')
  equal((await a.auth.getSession()).data.session, null, 'local forgets the session')
  fails(
    await client().refreshSession({ refresh_token: a.session.refresh_token }),
    'refresh_token_not_found',
    400,
    'refresh of the session signed out locally',
  )
  ok(await d.auth.getUser(), 'local leaves the other sessions')

  const e = await signedIn(email)
  ok(await d.auth.signOut(), 'signOut (global, the default)')
  equal((await d.auth.getSession()).data.session, null, 'global forgets the session')
  check((await client().getUser(e.session.access_token)).error, 'global ends every session')
  fails(
    await client().refreshSession({ refresh_token: e.session.refresh_token }),
    'refresh_token_not_found',
    400,
    'refresh after global',
  )
  ok(await bystander.auth.getUser(), "another user's session is untouched")
  // The server answers 403 session_not_found for an ended session, which the client takes as
  // signed out: its signOut succeeds and forgets the session.
  ok(await e.auth.signOut(), 'signOut of a session already ended elsewhere')
  equal((await e.auth.getSession()).data.session, null, 'the ended session is forgotten')
})

step('error codes through the client: AuthApiError code and status', async () => {
  const { email } = await signedUp()
  const wrong = fails(
    await client().signInWithPassword({ email, password: 'not the password' }),
    'invalid_credentials',
    400,
    'wrong password',
  )
  check(wrong instanceof AuthApiError, 'an AuthApiError', wrong.name)
  fails(
    await client().signInWithPassword({ email: address('nobody'), password: PASSWORD }),
    'invalid_credentials',
    400,
    'unknown address (the same answer)',
  )
  const weak = fails(
    await client().signUp({ email: address('weak'), password: 'short' }),
    'weak_password',
    422,
    'weak password',
  )
  check(weak instanceof AuthWeakPasswordError, 'an AuthWeakPasswordError', weak.name)
  check(weak.reasons.includes('length'), 'reasons include length', weak.reasons)
  fails(
    await client().refreshSession({ refresh_token: 'not-a-token' }),
    'refresh_token_not_found',
    400,
    'unknown refresh token',
  )
})

// The same errors read by hand in both dialects: with X-Supabase-Api-Version (what the clients
// send) {code, message} and the version echoed; without it, the legacy {code: status,
// error_code, msg}, which older clients read.
async function raw(path, body, versioned) {
  const headers = { 'Content-Type': 'application/json', apikey: KEY }
  if (versioned) headers['X-Supabase-Api-Version'] = VERSION
  const r = await fetch(`${PLAIN}/auth/v1${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  })
  return { status: r.status, version: r.headers.get('x-supabase-api-version'), body: await r.json() }
}

step('error codes in both API versions (plain fetch)', async () => {
  const { email } = await signedUp()
  const cases = [
    ['/token?grant_type=password', { email, password: 'wrong wrong' }, 400, 'invalid_credentials'],
    ['/token?grant_type=refresh_token', { refresh_token: 'nope' }, 400, 'refresh_token_not_found'],
    ['/signup', { email: address('weak'), password: 'short' }, 422, 'weak_password'],
  ]
  for (const [path, body, status, code] of cases) {
    const v = await raw(path, body, true)
    equal([v.status, v.version, v.body.code], [status, VERSION, code], `${code} versioned`)
    check(typeof v.body.message === 'string' && v.body.message, `${code}: a message`, v.body)
    check(!('error_code' in v.body), `${code}: no error_code when versioned`, v.body)

    const l = await raw(path, body, false)
    equal([l.status, l.version], [status, null], `${code} legacy status and no version echo`)
    equal([l.body.code, l.body.error_code], [status, code], `${code} legacy code/error_code`)
    check(typeof l.body.msg === 'string' && l.body.msg, `${code}: legacy msg`, l.body)
    if (code === 'weak_password') {
      for (const b of [v.body, l.body]) {
        check(b.weak_password?.reasons?.includes('length'), 'weak_password.reasons', b)
      }
    }
  }
})

// --- run -----------------------------------------------------------------------------------

let passed = 0
for (const [name, run] of steps) {
  try {
    await run()
  } catch (error) {
    const detail = error instanceof Failure ? error.message : error?.stack ?? String(error)
    console.log(`not ok - ${name}\n  ${detail}`)
    console.log(`supabase-js scenario: stopped at step ${passed + 1} of ${steps.length}`)
    process.exit(1)
  }
  passed += 1
  console.log(`ok - ${name}`)
}
console.log(`supabase-js scenario: all ${passed} steps passed`)
