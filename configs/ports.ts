// The ports nginx listens on inside its container (published on httpPort and httpsPort), which
// Pebble also validates challenges on. A leaf module: nginx and Pebble both read it.
export const NGINX_HTTP_PORT = 80;
export const NGINX_HTTPS_PORT = 443;
/** nginx's bcrypt check, on the loopback of its own container only (configs/auth.ts). */
export const NGINX_VERIFY_PORT = 8081;
/** The Prometheus scrape endpoint (configs/metrics.ts), published on metrics.bindAddress:metrics.port. */
export const NGINX_METRICS_PORT = 9145;
