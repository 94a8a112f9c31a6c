// Where the certificate lives, as the certbot and nginx containers both see it: the
// certificates volume. Facts shared by configs/certbot.ts (which writes) and configs/nginx.ts
// (which reads), kept here so that neither imports the other.

/** Where the certificates volume is mounted (read-write in certbot, read-only in nginx). */
export const LETSENCRYPT_DIR = "/etc/letsencrypt";
/** certbot's name for the registry's certificate: live/<CERT_NAME>/fullchain.pem. */
export const CERT_NAME = "registry";
/** The certificate's files (fullchain.pem, privkey.pem, cert.pem), as certbot keeps them. */
export const LIVE_CERTIFICATE_DIR = `${LETSENCRYPT_DIR}/live/${CERT_NAME}`;
/** With metrics: "<Unix time> <1|0>" of certbot's last renewal check, and whether it worked (configs/metrics.ts). */
export const RENEWAL_STATUS = `${LETSENCRYPT_DIR}/registry-renewal-status`;
/** Written by the deploy hook on every new certificate; nginx reloads when it changes. */
export const DEPLOY_MARKER = `${LETSENCRYPT_DIR}/registry-deployed`;
