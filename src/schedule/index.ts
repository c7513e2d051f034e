// critdamp/schedule: learning-rate and momentum schedules (beta-scheduling: μ = 1 − 2√α), damping
// regimes and their summaries. Plain TypeScript, no GPU and no Node APIs: also bundled for the
// browser as dist/schedule.js.
export { TrainingSchedule } from './schedule';
export type { ScheduleConfig, ResolvedScheduleConfig, SchedulePoint, ScheduleState, AccuracyReport } from './schedule';
export { LR_DEFAULTS, LR_KINDS, annealCos, lrAt, oneCyclePhase, resolveLr } from './lr';
export type { LrConfig, LrKind, ResolvedLr } from './lr';
export { MOMENTUM_DEFAULTS, MOMENTUM_KINDS, physicsMomentum, resolveMomentum } from './momentum';
export type { HybridSwitch, MomentumConfig, MomentumKind, ResolvedMomentum } from './momentum';
export { DEFAULT_DELTA, REGIMES, classifyRegime, epochRegime, muCritical, summarizeRegimes } from './regime';
export type { Regime, RegimeFractions, RegimeSummary } from './regime';
export { parseLrSpec, parseMomentumSpec } from './spec';
