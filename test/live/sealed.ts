// The bed's state and results hold secrets (generated passwords, as Pulumi's state does):
// on disk they are sealed with AES-256-GCM under a key that lives only in the parent
// process's memory and the child's environment.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import * as fs from "node:fs";

export function seal(file: string, key: Buffer, value: unknown): void {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
    fs.writeFileSync(file, Buffer.concat([iv, cipher.getAuthTag(), body]), { mode: 0o600 });
}

export function unseal<T>(file: string, key: Buffer): T {
    const data = fs.readFileSync(file);
    const decipher = createDecipheriv("aes-256-gcm", key, data.subarray(0, 12));
    decipher.setAuthTag(data.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]).toString("utf8")) as T;
}
