/**
 * The network's address-learning table (nft/learn.ts): created after the ports (a macvtap's egress chain
 * needs its device), replaced only when it changes (a replaced table forgets what it learned: the guests'
 * next packets teach it again), removed when the kind has none. Rolled back like every step.
 */
import { sha256Hex } from '../../util/index.js'
import { learningShape, renderLearning, type AddressLearning } from '../../nft/index.js'
import type { ApplyContext } from '../driver.js'

export async function ensureLearning(ctx: ApplyContext, planned: AddressLearning | undefined, tag: string): Promise<void> {
  const { state, prev, nft } = ctx
  if (!planned) {
    if (!prev?.learnHash) return
    await ctx.tx.step('learn-remove', 'nft', async (s) => {
      await nft.removeLearning(tag)
      state.learnHash = undefined
      s.outcome('removed')
    })
    return
  }
  await ctx.tx.step('learn', 'nft', async (s) => {
    const hashOf = (v: unknown): string => sha256Hex(JSON.stringify(v)).slice(0, 32)
    // shape:ports — a bridge network's ports are a set of their own, replaced without forgetting anything.
    const hash = `${hashOf(renderLearning(learningShape(planned)))}:${hashOf(planned.family === 'bridge' ? planned.ports : [])}`
    const there = prev?.learnHash !== undefined && (await nft.hasLearning(planned.tag, planned.family))
    if (there && prev?.learnHash === hash) {
      s.outcome('unchanged')
      return
    }
    if (there && planned.family === 'bridge' && prev?.learnHash?.split(':')[0] === hash.split(':')[0]) {
      const before = await nft.learningPorts(planned.tag)
      await nft.applyLearningPorts(planned, before)
      s.onUndo(() => nft.applyLearningPorts({ ...planned, ports: before }, planned.ports))
      s.outcome('updated')
      state.learnHash = hash
      return
    }
    // The other family's table, left by a converge from another kind, goes in the same transaction.
    const probablyAbsent = prev?.learnHash === undefined
    await nft.applyLearning(planned, { probablyAbsent, present: probablyAbsent ? (await ctx.nftLook?.())?.learningPresent : undefined })
    // Recorded as made with this very shape, yet not there: deleted behind kvmnet's back, now put back.
    s.outcome(!prev?.learnHash ? 'created' : prev.learnHash === hash ? 'repaired' : 'updated')
    s.onUndo(() => nft.removeLearning(planned.tag))
    state.learnHash = hash
  })
}
