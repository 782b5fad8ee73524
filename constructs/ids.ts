/** The one id function lives in topology/ids.ts, so the topology rules can check ids are unique. */
export { constructId } from "../topology/ids.ts";
