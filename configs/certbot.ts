// certbot: the scripts the certbot container runs. Pure: settings in, shell text out.
//
// A new certificate reaches nginx through the certificates volume alone: the deploy hook
// writes a marker there, and nginx's container reloads itself when it changes. No host cron,
// no Docker socket and no shared PID namespace (which a restart of either container breaks).
import { createHash } from "node:crypto";
import { PEBBLE_DIRECTORY_URL, PEBBLE_ROOTS_URL } from "../settings/pebbleAddress";
import { Settings } from "../settings/types";
import { CERT_NAME, DEPLOY_MARKER, LETSENCRYPT_DIR, LIVE_CERTIFICATE_DIR, RENEWAL_STATUS } from "./certificates";
import { authenticatorArgs, dnsEnv } from "./dns";
import { renderTemplate } from "./template";

export { LETSENCRYPT_DIR, LIVE_CERTIFICATE_DIR } from "./certificates";

export const WEBROOT = "/var/www/acme";
export const DEPLOY_HOOK = "/usr/local/bin/registry-deploy-hook";
export const HEALTH_CHECK = "/usr/local/bin/registry-certificate-health";
/**
 * The certificate request as `pulumi up` last ran it (renderCertonlyStep leaves it in the certbot
 * container), which the renew loop runs again when the certificate has gone.
 */
export const CERTONLY_SCRIPT = "/usr/local/bin/registry-certonly";
/** The private CA's root certificate (Pebble), saved when a certificate is issued. */
export const ACME_ROOT_FILE = `${LETSENCRYPT_DIR}/registry-acme-root.pem`;
/** What the current certificate was requested for; a change forces a new certificate. */
export const REQUEST_FILE = `${LETSENCRYPT_DIR}/registry-request`;
/** A custom CA's root (acmeCaCertificate), uploaded into the certbot container. */
export const ACME_CA_PATH = "/etc/registry-acme/ca.pem";
/** What certbot trusts for a custom CA's ACME server: the usual roots plus that CA (built at start). */
export const ACME_CA_BUNDLE = "/etc/registry-acme/bundle.pem";
/** Where Pebble's listener CA is mounted in the certbot container (local stacks). */
export const PEBBLE_CA_DIR = "/etc/pebble-ca";

function q(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Held by every certbot run of this program (renewals and certonly): they never overlap. */
export const CERTBOT_LOCK = `${LETSENCRYPT_DIR}/.registry-certbot.lock`;

/**
 * A shell function `locked CMD...` that runs CMD holding CERTBOT_LOCK, waiting for it: a
 * certonly from `pulumi up` waits for a renewal check in progress (and the other way round)
 * instead of failing with certbot's "Another instance of Certbot is already running".
 */
export function lockedFunction(): string {
    const py =
        "import fcntl,os,sys; f=open(sys.argv[1],'a'); fcntl.flock(f,fcntl.LOCK_EX); os.set_inheritable(f.fileno(),True); os.execvp(sys.argv[2],sys.argv[2:])";
    return `locked() { python3 -c ${q(py)} ${CERTBOT_LOCK} "$@"; }`;
}

/** Certbot container environment. */
export function certbotEnv(s: Settings): string[] {
    const env = ["CERTBOT_NO_RANDOM_SLEEP=1", ...dnsEnv(s.acme.challenge)];
    if (s.acme.kind === "pebble") {
        env.push(`REQUESTS_CA_BUNDLE=${PEBBLE_CA_DIR}/pebble.minica.pem`, `ACME_ROOT_URL=${PEBBLE_ROOTS_URL}`);
    } else if (s.acme.caCertificate) {
        env.push(`REQUESTS_CA_BUNDLE=${ACME_CA_BUNDLE}`);
    }
    return env;
}

/**
 * The line that makes the trust bundle for a custom CA's ACME server: the roots certbot trusts
 * anyway (certifi's, which requests uses) plus the CA's PEM. False without a custom CA.
 */
function acmeTrust(s: Settings): string | false {
    if (!s.acme.caCertificate) return false;
    return `cat "$(python3 -c 'import certifi; print(certifi.where())')" ${ACME_CA_PATH} > ${ACME_CA_BUNDLE}.tmp && mv -f ${ACME_CA_BUNDLE}.tmp ${ACME_CA_BUNDLE}`;
}

/** certbot's renewal settings of the registry's certificate (its authenticator, account, ...). */
export const RENEWAL_CONF = `${LETSENCRYPT_DIR}/renewal/${CERT_NAME}.conf`;

/** certbot's accounts with the local Pebble (accounts/<host:port>), and for its directory (…/<path>). */
const PEBBLE_DIRECTORY = new URL(PEBBLE_DIRECTORY_URL);
const PEBBLE_ACCOUNTS = `${LETSENCRYPT_DIR}/accounts/${PEBBLE_DIRECTORY.host}`;

/**
 * Pebble keeps its accounts in memory: once it restarts (a new container, a Docker restart)
 * it no longer knows certbot's, and every order fails ("Account … not found"). On a Pebble
 * stack, a script (run under certbot's lock) that registers again when Pebble has forgotten
 * the account, and points the certificate's renewals at the new one. The certificate itself is kept (valid under the old
 * root until its renewal). False elsewhere. Needs `locked`.
 */
function pebbleAccountCheck(s: Settings): string | false {
    if (s.acme.kind !== "pebble") return false;
    const accounts = `${PEBBLE_ACCOUNTS}${PEBBLE_DIRECTORY.pathname}`;
    const script = [
        "set -eu",
        "stale=",
        `if [ -d ${PEBBLE_ACCOUNTS} ] && certbot show_account --server ${q(s.acme.server)} 2>&1 | grep -q 'unable to find existing account'; then stale=1; fi`,
        // A registration that failed half-way: the renewals' account is gone here too.
        `if [ -e ${RENEWAL_CONF} ] && [ ! -d "${accounts}/$(sed -n 's/^account = //p' ${RENEWAL_CONF})" ]; then stale=1; fi`,
        'if [ -n "$stale" ]; then',
        `  rm -rf ${PEBBLE_ACCOUNTS}`,
        `  certbot register --non-interactive --agree-tos ${registrationArgs(s).map(q).join(" ")} --server ${q(s.acme.server)}`,
        `  account=$(ls ${accounts})`,
        `  if [ -e ${RENEWAL_CONF} ]; then sed -i "s/^account = .*/account = $account/" ${RENEWAL_CONF}; fi`,
        `  echo "registry: Pebble had forgotten certbot's account (it restarted); registered again as $account" >&2`,
        "fi",
    ].join("\n");
    // One check at a time, under certbot's lock: certonly and the renew loop may both find it stale.
    return `locked sh -c ${q(script)}`;
}

/** How certbot registers: with the e-mail, or explicitly without. */
function registrationArgs(s: Settings): string[] {
    return s.acme.email ? ["--email", s.acme.email, "--no-eff-email"] : ["--register-unsafely-without-email"];
}

/** Runs after every issuance or renewal: save a private CA's root, tell nginx (the marker). */
export function renderDeployHook(): string {
    return renderTemplate("deploy-hook.sh.mustache", { acmeRootFile: ACME_ROOT_FILE, deployMarker: DEPLOY_MARKER });
}

/** The certbot container's health check (configs/templates/certificate-health.py.mustache). */
export function renderHealthCheck(s: Settings): string {
    return renderTemplate("certificate-health.py.mustache", {
        certificate: `${LIVE_CERTIFICATE_DIR}/cert.pem`,
        warningDays: s.certificateWarningDays,
    });
}

/** The certbot container's command: install the hooks, then check for renewal forever. */
export function renderRenewLoop(s: Settings): string {
    return renderTemplate("renew-loop.sh.mustache", {
        deployHook: DEPLOY_HOOK,
        deployHookScript: renderDeployHook().trimEnd(),
        healthCheck: HEALTH_CHECK,
        healthCheckScript: renderHealthCheck(s).trimEnd(),
        certonly: CERTONLY_SCRIPT,
        acmeTrust: acmeTrust(s),
        lockedFunction: lockedFunction(),
        renewalConf: RENEWAL_CONF,
        pebbleAccountCheck: pebbleAccountCheck(s),
        renewCheckHours: s.renewCheckHours,
        renewCheckSeconds: s.renewCheckHours * 3600,
        renewalStatus: s.metrics.enabled ? RENEWAL_STATUS : false,
    });
}

/**
 * What a certificate is requested for: its names, CA, key type and challenge (certbot keeps the
 * authenticator for renewals only when it issues). E-mail is account data. An HTTP-01
 * certificate for one name keeps the id it had before DNS-01 and extra names existed.
 */
export function certificateRequestId(s: Settings): string {
    const more = requestExtras(s);
    const what = JSON.stringify({ domain: s.domain, server: s.acme.server, keyType: s.acme.keyType, ...(more.length ? { more } : {}) });
    return createHash("sha256").update(what).digest("hex").slice(0, 16);
}

/** certbot certonly arguments (after `certbot`), without the renewal-mode flag. */
export function certonlyArgs(s: Settings): string[] {
    const args = [
        "certonly",
        "--non-interactive",
        "--agree-tos",
        ...authenticatorArgs(s.acme.challenge, WEBROOT),
        "--cert-name",
        CERT_NAME,
        ...[s.domain, ...s.domains].flatMap((name) => ["--domain", name]),
        "--server",
        s.acme.server,
        "--key-type",
        s.acme.keyType,
        "--deploy-hook",
        DEPLOY_HOOK,
    ];
    return [...args, ...registrationArgs(s)];
}

/**
 * Obtains the certificate, run in the certbot container. Idempotent: an unexpired
 * certificate for the same request is kept; changed names, CA, key type or challenge get a new one.
 */
export function renderCertonly(s: Settings): string {
    return renderTemplate("certonly.sh.mustache", {
        requestId: certificateRequestId(s),
        requestFile: REQUEST_FILE,
        fullchain: `${LIVE_CERTIFICATE_DIR}/fullchain.pem`,
        acmeTrust: acmeTrust(s),
        lockedFunction: lockedFunction(),
        pebbleAccountCheck: pebbleAccountCheck(s),
        certonlyArgs: certonlyArgs(s).map(q).join(" "),
        // DNS-01: a certbot container with new credentials (or a new image) proves them at once.
        dryRunFailure:
            s.acme.challenge.kind === "dns" &&
            q(
                `registry: a test issuance by DNS-01 (certbot --dry-run) failed for ${s.domain}: the ${s.acme.challenge.plugin} plugin's reason is above. The certificate in use is unchanged and nginx keeps serving it; renewals would fail the same way. Fix dnsCredentials (or the zone's permissions), then run pulumi up again.`,
            ),
        failure: q(
            `registry: certbot could not obtain a certificate for ${s.domain} from ${s.acme.server}. nginx keeps serving what it served before (the same name and certificate on HTTPS, and the redirect to it on HTTP). ${checkHint(s)}, then run pulumi up again.`,
        ),
    });
}

/**
 * The certonly step of `pulumi up`: leaves the request in the certbot container (CERTONLY_SCRIPT,
 * for the renew loop), then runs it.
 */
export function renderCertonlyStep(s: Settings): string {
    return [
        `cat > ${CERTONLY_SCRIPT}.tmp <<'REGISTRY_CERTONLY_EOF'`,
        renderCertonly(s).trimEnd(),
        "REGISTRY_CERTONLY_EOF",
        `mv -f ${CERTONLY_SCRIPT}.tmp ${CERTONLY_SCRIPT}`,
        `exec sh ${CERTONLY_SCRIPT}`,
        "",
    ].join("\n");
}

/** What a request has beyond its domain, CA and key type: extra names, a DNS plugin (none for HTTP-01 and one name). */
export function requestExtras(s: Settings): string[] {
    const c = s.acme.challenge;
    return [...(s.domains.length ? [s.domains.join(",")] : []), ...(c.kind === "dns" ? [`dns-${c.plugin}`] : [])];
}

/** What to check when certonly fails, by challenge. */
function checkHint(s: Settings): string {
    const c = s.acme.challenge;
    if (c.kind === "http") return `Check that ${s.domain} resolves to this host and that port 80 reaches nginx`;
    return `Check the ${c.plugin} plugin's reason above, that dnsCredentials may change the zone of ${s.domain}, and that dnsPropagationSeconds covers the DNS servers' delay`;
}

/** Prints the certificate's expiry (ISO 8601, UTC). Runs in the certbot container. */
export function renderExpiryProbe(): string {
    const py = [
        "import sys",
        "from cryptography import x509",
        "c = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())",
        "t = getattr(c, 'not_valid_after_utc', None) or c.not_valid_after",
        "print(t.strftime('%Y-%m-%dT%H:%M:%SZ'))",
    ].join("\n");
    return `python3 -c ${q(py)} ${LIVE_CERTIFICATE_DIR}/cert.pem\n`;
}
