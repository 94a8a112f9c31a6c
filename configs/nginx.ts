// nginx configuration for the registry's TLS proxy: pure renderers, settings in, text out.
import { WEBROOT } from "./certbot";
import { CERT_NAME, DEPLOY_MARKER } from "./certificates";
import { HTPASSWD_VARIABLE } from "./htpasswd";
import { DRAIN_SECONDS, REGISTRY_READONLY_SOCKET, REGISTRY_SOCKET } from "./registry";
import { Settings } from "./settings";
import { renderTemplate } from "./template";

/** Where the nginx-config volume is mounted in the nginx container. */
export const NGINX_CONF_DIR = "/etc/nginx/registry";
/** Where the auth volume (htpasswd) is mounted in the nginx container. */
export const NGINX_AUTH_DIR = "/etc/nginx/auth";
/** Where the running nginx reads its config from: a link to NGINX_CONF_DIR or the fallback. */
export const NGINX_ACTIVE_DIR = "/etc/nginx/active";
export const HSTS_MAX_AGE = 63072000;
/** Where nginx sees the registry container's control volume (GC flag), read-only. */
export const NGINX_CONTROL_DIR = "/etc/nginx/registry-control";

/** Host (and port, when not 443) that clients use: `docker push <publicHost>/repo`. */
export function publicHost(s: Pick<Settings, "domain" | "publish">): string {
    return s.publish.httpsPort === 443 ? s.domain : `${s.domain}:${s.publish.httpsPort}`;
}

export function renderMainConf(s: Settings): string {
    return renderTemplate("nginx.conf.mustache", { stack: s.stack, drainSeconds: DRAIN_SECONDS, serversDir: NGINX_INCLUDE_DIRS.servers });
}

/** Config subdirectories (relative to NGINX_CONF_DIR) that the main config includes. */
export const NGINX_INCLUDE_DIRS = { servers: "servers", access: "access", redirect: "redirect" } as const;

/** The port-80 server: ACME challenges for any name, the rest to the redirect installed with HTTPS. */
export function renderHttpServer(): string {
    return renderTemplate("http-server.conf.mustache", { webroot: WEBROOT, redirectDir: NGINX_INCLUDE_DIRS.redirect });
}

/** Port 80's redirect to the HTTPS server, installed together with it (after its certificate). */
export function renderHttpsRedirect(s: Settings): string {
    return `# Managed by the private-registry Pulumi program: installed with the HTTPS server.\nreturn 301 https://${publicHost(s)}$request_uri;\n`;
}

export function renderHttpsServer(s: Settings): string {
    return renderTemplate("https-server.conf.mustache", {
        domain: s.domain,
        certName: CERT_NAME,
        registrySocket: REGISTRY_SOCKET,
        readonlyRegistrySocket: REGISTRY_READONLY_SOCKET,
        hstsMaxAge: HSTS_MAX_AGE,
        realm: "Registry",
        controlDir: NGINX_CONTROL_DIR,
        accessDir: NGINX_INCLUDE_DIRS.access,
        htpasswdVariable: HTPASSWD_VARIABLE,
        noUsersFile: `${NGINX_AUTH_DIR}/no-users-installed`,
    });
}

export function renderFallbackConf(): string {
    return renderTemplate("fallback.conf.mustache", { webroot: WEBROOT });
}

/** How often nginx looks at the certbot's deploy marker (a renewed certificate is served within this). */
export const DEPLOY_POLL_SECONDS = 2;

/**
 * The nginx container's command. nginx always starts: with the installed config when it
 * passes `nginx -t`, otherwise with a built-in HTTP-only config that still serves ACME
 * challenges. It runs as PID 1. Beside it, a watcher reloads it (HUP, graceful) when the
 * certbot container's deploy hook touches the marker in the certificates volume: renewals
 * reach nginx with nothing shared between the two containers but that volume, so a restart
 * or replacement of either (or of the Docker daemon) cannot break it.
 */
export function renderNginxEntrypoint(): string {
    return [
        "set -eu",
        `mkdir -p /etc/nginx/fallback ${Object.values(NGINX_INCLUDE_DIRS).map((d) => `${NGINX_CONF_DIR}/${d}`).join(" ")}`,
        "cat > /etc/nginx/fallback/nginx.conf <<'REGISTRY_FALLBACK_EOF'",
        renderFallbackConf().trimEnd(),
        "REGISTRY_FALLBACK_EOF",
        `if [ -f ${NGINX_CONF_DIR}/nginx.conf ] && nginx -t -q -c ${NGINX_CONF_DIR}/nginx.conf; then`,
        `  ln -sfn ${NGINX_CONF_DIR} ${NGINX_ACTIVE_DIR}`,
        "else",
        `  echo "registry-nginx: ${NGINX_CONF_DIR}/nginx.conf is missing or invalid; serving ACME challenges only" >&2`,
        `  ln -sfn /etc/nginx/fallback ${NGINX_ACTIVE_DIR}`,
        "fi",
        `marker=${DEPLOY_MARKER}`,
        // Not under `set -e`: the marker is missing until the first certificate.
        '( set +e; seen=$(cat "$marker" 2>/dev/null); while sleep ' + DEPLOY_POLL_SECONDS + '; do now=$(cat "$marker" 2>/dev/null); if [ "$now" != "$seen" ]; then seen=$now; kill -HUP 1 && echo "registry-nginx: certificate deployed ($now); reloaded" >&2; fi; done ) &',
        `exec nginx -c ${NGINX_ACTIVE_DIR}/nginx.conf -g 'daemon off;'`,
        "",
    ].join("\n");
}
