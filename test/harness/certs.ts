// Test certificates made with openssl: a throwaway CA, and server certificates it signs for
// the names or addresses a test server answers on. Synchronous; files go in `dir`.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "./tempDir";

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function openssl(args: string[]): void {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

export interface TestCa {
    dir: string;
    /** PEM of the CA's certificate. */
    pem: string;
    /** Makes a server (or client) certificate for `subjectAltName` (e.g. `IP:10.0.0.1`): returns the cert and key paths. */
    issue(name: string, subjectAltName: string, usage?: "serverAuth" | "clientAuth"): { cert: string; key: string };
}

/** A new CA in `dir` (by default a temporary directory, removed when the process exits). */
export function makeCa(commonName: string, dir = tempDir("registry-test-ca-")): TestCa {
    const caKey = path.join(dir, "ca.key");
    const caCert = path.join(dir, "ca.pem");
    openssl([
        "req",
        "-x509",
        ...EC,
        "-keyout",
        caKey,
        "-out",
        caCert,
        "-days",
        "2",
        "-subj",
        `/CN=${commonName}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    return {
        dir,
        pem: fs.readFileSync(caCert, "utf8"),
        issue(name, subjectAltName, usage = "serverAuth") {
            const key = path.join(dir, `${name}.key`);
            const csr = path.join(dir, `${name}.csr`);
            const cert = path.join(dir, `${name}.crt`);
            const ext = path.join(dir, `${name}.ext`);
            openssl(["req", ...EC, "-keyout", key, "-out", csr, "-subj", `/CN=${name}`]);
            fs.writeFileSync(ext, `subjectAltName=${subjectAltName}\nextendedKeyUsage=${usage}\n`);
            openssl([
                "x509",
                "-req",
                "-in",
                csr,
                "-CA",
                caCert,
                "-CAkey",
                caKey,
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                ext,
                "-out",
                cert,
            ]);
            return { cert, key };
        },
    };
}

/** A self-signed certificate (PEM) and its key file, e.g. to stand in for one nginx serves. */
export function selfSigned(commonName: string, keyFile: string, certFile: string): string {
    openssl(["req", "-x509", ...EC, "-days", "1", "-subj", `/CN=${commonName}`, "-keyout", keyFile, "-out", certFile]);
    return fs.readFileSync(certFile, "utf8");
}
