// The wrong-password flood's own thread (test/live/flood.ts): runs it and reports the result.
import { parentPort, workerData } from "node:worker_threads";
import { floodFromHere } from "./flood";

const { ep, user, sources, bounds } = workerData;
floodFromHere(ep, user, sources, bounds).then((result) => parentPort!.postMessage(result));
