// PEM certificates given in config (a private CA). Pure.
import { X509Certificate } from "node:crypto";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g;

/**
 * The PEM certificate blocks of `text`, normalized (one block after another, ending in a newline), or
 * undefined when there is none or one does not parse.
 */
export function pemCertificates(text: unknown): string | undefined {
    const blocks = typeof text === "string" ? (text.match(PEM_CERTIFICATE) ?? []) : [];
    const parses = (pem: string) => {
        try {
            new X509Certificate(pem);
            return true;
        } catch {
            return false;
        }
    };
    return blocks.length > 0 && blocks.every(parses) ? `${blocks.join("\n")}\n` : undefined;
}
