/**
 * The bandwidth fields of a network spec (ports[].bandwidth and the network's bandwidth), in libvirt's
 * <bandwidth> meaning and units so a libvirt definition carries over unchanged. Their relations are
 * checked in bandwidth.ts. Defined on first use, with the rest of the spec's schema (spec-schema.ts).
 */
import { s } from '../schema/index.js'

/** The port's and the network's bandwidth schemas. */
export function defineBandwidthSchemas() {
  /** libvirt's <bandwidth> units: average, peak and floor in KiB/s, burst in KiB (up to 4 TiB/s). */
  const kibPerSecond = s.int(1, 0xffffffff)
  const kib = s.int(1, 0xffffffff)
  const rateFields = {
    peak: kibPerSecond.optional().describe('The most it may send, KiB/s, while burst lasts (HTB ceil); at least average'),
    burst: kib.optional().describe('KiB it may send at peak (or line rate) before being held to average'),
  }

  const portBandwidthSchema = s
    .object({
      inbound: s
        .object({
          average: kibPerSecond.optional().describe('Average rate of traffic to the guest, KiB/s'),
          ...rateFields,
          floor: kibPerSecond.optional().describe("Guaranteed share of the network's inbound cap, KiB/s (needs the network's bandwidth.inbound)"),
        })
        .optional()
        .describe('Traffic to the guest (shaped on the tap)'),
      outbound: s
        .object({ average: kibPerSecond.describe('Average rate of traffic from the guest, KiB/s'), ...rateFields })
        .optional()
        .describe('Traffic from the guest (redirected from the tap to an IFB device and shaped there)'),
    })
    .describe("The guest's bandwidth limits, libvirt's <bandwidth> meaning and units")

  const networkBandwidthSchema = s
    .object({
      inbound: s
        .object({ average: kibPerSecond.describe('Average rate of all traffic into the network, KiB/s'), ...rateFields })
        .optional()
        .describe('Traffic the host sends or routes to the guests, all together (shaped on the bridge)'),
      outbound: s
        .object({ average: kibPerSecond.describe('Average rate of all traffic from the guests, KiB/s'), ...rateFields })
        .optional()
        .describe("Traffic from the guests, all together (every tap's ingress redirected to one IFB and shaped there)"),
    })
    .describe("A cap on the whole network's traffic; ports' inbound floors are shares of it")
  return { portBandwidthSchema, networkBandwidthSchema }
}
