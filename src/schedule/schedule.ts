/**
 * TrainingSchedule: one learning-rate schedule and one momentum schedule over a run of
 * epochs × stepsPerEpoch optimizer steps, with the damping regime of every step.
 *
 * at(step) is a pure function of the step and of what the schedule has been told (reported test
 * accuracies, which can trigger a hybrid's switch), so a run resumed from state() continues with
 * exactly the values the uninterrupted run would have had. next() walks the steps in order and is
 * the position that state() saves.
 */
import { fail, inRange, isNum, knownKeys, nonNegative, positiveInt } from './check';
import { checkLrAgainstRun, lrAt, resolveLr, type LrConfig, type ResolvedLr } from './lr';
import {
  checkMomentumAgainstRun, hybridSwitchStep, momentumAt, resolveMomentum,
  type MomentumConfig, type MomentumRun, type ResolvedMomentum,
} from './momentum';
import { classifyRegime, DEFAULT_DELTA, muCritical, summarizeRegimes, type Regime, type RegimeSummary } from './regime';

export interface ScheduleConfig {
  epochs: number;
  stepsPerEpoch: number;
  lr: LrConfig;
  momentum: MomentumConfig;
  /** Half-width of the critical band; the paper's 0.05 by default. */
  delta?: number;
}

export interface ResolvedScheduleConfig {
  epochs: number;
  stepsPerEpoch: number;
  lr: ResolvedLr;
  momentum: ResolvedMomentum;
  delta: number;
}

/** Everything the optimizer and the reports need at one step. */
export interface SchedulePoint {
  step: number;
  /** Fractional epoch t = step / stepsPerEpoch. */
  epoch: number;
  /** α, the learning rate the optimizer applies at this step. */
  lr: number;
  /** μ for SGD, β1 for Adam. */
  momentum: number;
  /** 1 − 2√α, unclamped. */
  muCritical: number;
  regime: Regime;
}

export interface AccuracyReport { epoch: number; acc: number }

/** JSON-able position of a schedule; restore() refuses a state saved from another config. */
export interface ScheduleState {
  version: 1;
  config: ResolvedScheduleConfig;
  /** The next step next() returns. */
  step: number;
  accuracies: AccuracyReport[];
  /** First epoch of a hybrid's constant phase once an accuracy switch has fired, else null. */
  switchEpoch: number | null;
}

const CONFIG_KEYS = ['epochs', 'stepsPerEpoch', 'lr', 'momentum', 'delta'];

export class TrainingSchedule {
  readonly config: ResolvedScheduleConfig;
  readonly totalSteps: number;
  private position_ = 0;
  private accuracies: AccuracyReport[] = [];
  private accSwitchEpoch: number | null = null;

  constructor(cfg: ScheduleConfig) {
    if (cfg === null || typeof cfg !== 'object') fail('schedule', 'the config', 'an object', cfg);
    knownKeys('schedule', cfg, CONFIG_KEYS);
    const epochs = positiveInt('schedule', 'epochs', cfg.epochs);
    const stepsPerEpoch = positiveInt('schedule', 'stepsPerEpoch', cfg.stepsPerEpoch);
    const delta = nonNegative('schedule', 'delta', cfg.delta ?? DEFAULT_DELTA);
    const lr = resolveLr(cfg.lr);
    const momentum = resolveMomentum(cfg.momentum);
    checkLrAgainstRun(lr, epochs, stepsPerEpoch);
    checkMomentumAgainstRun(momentum, epochs, lr.kind);
    this.config = { epochs, stepsPerEpoch, lr, momentum, delta };
    this.totalSteps = epochs * stepsPerEpoch;
  }

  /** The next step next() will return (0 at the start, totalSteps when training is over). */
  get position(): number {
    return this.position_;
  }

  /** The first step of a hybrid's constant phase, or null (not a hybrid, or not switched yet). */
  get switchStep(): number | null {
    const m = this.config.momentum;
    if (m.kind !== 'hybrid') return null;
    return hybridSwitchStep(m.switchAt, this.config.epochs, this.config.stepsPerEpoch, this.accSwitchEpoch);
  }

  at(step: number): SchedulePoint {
    if (!Number.isInteger(step) || step < 0 || step >= this.totalSteps) {
      throw new RangeError(`schedule: step must be an integer in [0, ${this.totalSteps}), got ${step}`);
    }
    const { epochs, stepsPerEpoch, delta } = this.config;
    const lr = lrAt(this.config.lr, step, epochs, stepsPerEpoch);
    const mu = momentumAt(this.config.momentum, step, lr, this.momentumRun());
    const muc = muCritical(lr);
    return { step, epoch: step / stepsPerEpoch, lr, momentum: mu, muCritical: muc, regime: classifyRegime(mu, muc, delta) };
  }

  /** The point at position, then advances one step. */
  next(): SchedulePoint {
    if (this.position_ >= this.totalSteps) {
      throw new RangeError(`schedule: training is over (all ${this.totalSteps} steps taken)`);
    }
    return this.at(this.position_++);
  }

  /**
   * Records the test accuracy (a fraction in [0, 1]) measured after epoch `epoch` (0-based: epoch
   * e covers steps [e·stepsPerEpoch, (e+1)·stepsPerEpoch)). For a hybrid switching on accuracy,
   * the first report that reaches the threshold latches the switch: steps from the next epoch on
   * use the constant. Reporting an epoch again replaces its accuracy but never moves the latch.
   */
  reportAccuracy(epoch: number, acc: number): void {
    checkReport(epoch, acc, this.config.epochs);
    const i = this.accuracies.findIndex((r) => r.epoch === epoch);
    if (i >= 0) this.accuracies[i] = { epoch, acc };
    else this.accuracies.push({ epoch, acc });
    const m = this.config.momentum;
    if (m.kind === 'hybrid' && 'acc' in m.switchAt && this.accSwitchEpoch === null && acc >= m.switchAt.acc) {
      this.accSwitchEpoch = epoch + 1;
    }
  }

  /** The accuracies reported so far, in report order. */
  reportedAccuracies(): AccuracyReport[] {
    return this.accuracies.map((r) => ({ ...r }));
  }

  /**
   * Regime fractions over the whole run, by steps and by epochs. For a hybrid switching on
   * accuracy, epochs not yet reported are taken as not switching (physics to the end).
   */
  summary(): RegimeSummary {
    const perStep: Regime[] = new Array(this.totalSteps);
    for (let s = 0; s < this.totalSteps; s++) perStep[s] = this.at(s).regime;
    return summarizeRegimes(perStep, this.config.stepsPerEpoch);
  }

  state(): ScheduleState {
    return {
      version: 1,
      config: JSON.parse(JSON.stringify(this.config)) as ResolvedScheduleConfig,
      step: this.position_,
      accuracies: this.reportedAccuracies(),
      switchEpoch: this.accSwitchEpoch,
    };
  }

  /** A schedule built from cfg at the saved position, with the saved reports and switch. */
  static restore(cfg: ScheduleConfig, state: ScheduleState): TrainingSchedule {
    const s = new TrainingSchedule(cfg);
    if (state === null || typeof state !== 'object' || state.version !== 1) {
      fail('restore', 'the state', 'an object from state() with version 1', state === null || typeof state !== 'object' ? state : state.version);
    }
    const given = JSON.stringify(s.config), saved = JSON.stringify(state.config);
    if (given !== saved) {
      throw new Error(`restore: the state was saved from a different schedule (saved ${saved}, given ${given})`);
    }
    if (!Number.isInteger(state.step) || state.step < 0 || state.step > s.totalSteps) {
      fail('restore', 'step', `an integer in [0, ${s.totalSteps}]`, state.step);
    }
    if (!Array.isArray(state.accuracies)) fail('restore', 'accuracies', 'a list', state.accuracies);
    for (const r of state.accuracies) checkReport(r?.epoch, r?.acc, s.config.epochs);
    const sw = state.switchEpoch;
    if (sw !== null && (!Number.isInteger(sw) || sw < 1 || sw > s.config.epochs)) {
      fail('restore', 'switchEpoch', `null or an integer in [1, ${s.config.epochs}]`, sw);
    }
    s.position_ = state.step;
    s.accuracies = state.accuracies.map((r) => ({ epoch: r.epoch, acc: r.acc }));
    s.accSwitchEpoch = sw;
    return s;
  }

  private momentumRun(): MomentumRun {
    const lr = this.config.lr;
    return {
      totalSteps: this.totalSteps,
      pctStart: lr.kind === 'onecycle' ? lr.pctStart : null,
      switchStep: this.switchStep,
    };
  }
}

function checkReport(epoch: unknown, acc: unknown, epochs: number): void {
  if (!isNum(epoch) || !Number.isInteger(epoch) || epoch < 0 || epoch >= epochs) {
    fail('reportAccuracy', 'epoch', `an integer in [0, ${epochs})`, epoch);
  }
  if (typeof acc === 'number' && acc > 1 && acc <= 100) {
    throw new Error(`reportAccuracy: acc must be a fraction in [0, 1], got ${acc} (a percentage? use ${acc / 100})`);
  }
  inRange('reportAccuracy', 'acc', acc, 0, 1);
}
