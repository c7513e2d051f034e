// Learning-rate schedules against closed forms and against the numbers PyTorch's schedulers give
// for stated configurations (each reference is the documented formula written out here, or a
// number derived by hand, so it does not share code with src/schedule).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TrainingSchedule, type LrConfig } from '../../src/schedule';

function lrs(lr: LrConfig, epochs: number, stepsPerEpoch: number, steps: number[]): number[] {
  const s = new TrainingSchedule({ epochs, stepsPerEpoch, lr, momentum: { kind: 'constant' } });
  return steps.map((k) => s.at(k).lr);
}

function close(actual: number[], expected: number[], tol: number, name: string): void {
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol,
      `${name}[${i}]: got ${actual[i]}, expected ${expected[i]} (tol ${tol})`);
  }
}

test('lr constant: the same α at every step', () => {
  assert.equal(lrs({ kind: 'constant', lr: 0.05 }, 3, 7, [0, 6, 7, 20]), [0.05, 0.05, 0.05, 0.05]);
  assert.equal(lrs({ kind: 'constant' }, 1, 1, [0]), [0.1]); // default is the paper's α0
});

test('lr step: StepLR(step_size=30, gamma=0.1) at fractional epochs, 391 steps/epoch', () => {
  // Drops exactly at epochs 30 and 60, i.e. at steps 11730 and 23460, not a step earlier or later.
  const got = lrs({ kind: 'step', lr: 0.1, stepSize: 30, gamma: 0.1 }, 90, 391, [0, 11729, 11730, 23459, 23460, 35189]);
  close(got, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], 1e-15, 'steplr');
});

test('lr step: MultiStepLR(milestones=[60,120,160], gamma=0.2) over 200 epochs at 10 steps/epoch', () => {
  const got = lrs({ kind: 'step', lr: 0.1, milestones: [60, 120, 160], gamma: 0.2 }, 200, 10,
    [0, 599, 600, 1199, 1200, 1599, 1600, 1999]);
  close(got, [0.1, 0.1, 0.02, 0.02, 0.004, 0.004, 0.0008, 0.0008], 1e-15, 'multistep');
});

test('lr cosine: CosineAnnealingLR(lr=0.1, T_max=200, eta_min=0) at whole and fractional epochs', () => {
  // Whole epochs equal PyTorch's per-epoch values: 0.05·(1 + cos(π e/200)). Hand-derived:
  // e=50 → 0.05(1 + √2/2) = 0.0853553390593274, e=100 → 0.05, e=150 → 0.05(1 − √2/2).
  const spe = 391;
  const got = lrs({ kind: 'cosine', lr: 0.1 }, 200, spe, [0, 50 * spe, 100 * spe, 150 * spe]);
  close(got, [0.1, 0.0853553390593274, 0.05, 0.0146446609406726], 1e-15, 'cosine');
  // Between epochs it keeps decaying: step 100·391 + 195 is t = 100 + 195/391.
  const t = 100 + 195 / spe;
  close(lrs({ kind: 'cosine', lr: 0.1 }, 200, spe, [100 * spe + 195]),
    [0.05 * (1 + Math.cos((Math.PI * t) / 200))], 1e-15, 'cosine fractional');
  // The last step sits just before T: tiny but positive.
  const last = lrs({ kind: 'cosine', lr: 0.1 }, 200, spe, [200 * spe - 1])[0];
  assert.ok(last > 0 && last < 1e-9, `last step lr ${last}`);
});

test('lr cosine: eta_min, CosineAnnealingLR(lr=0.1, T_max=10, eta_min=0.001)', () => {
  // eta_min + (0.1 − eta_min)(1 + cos(π e/10))/2: e=5 → 0.0505, e=2 → 0.001 + 0.0495(1 + cos 0.2π).
  const got = lrs({ kind: 'cosine', lr: 0.1, min: 0.001 }, 10, 4, [0, 20, 8]);
  close(got, [0.1, 0.0505, 0.001 + 0.0495 * (1 + Math.cos(0.2 * Math.PI))], 1e-15, 'cosine min');
});

test('lr cosine with warm-up: linear from 0.1·α0 over 5 epochs, then cosine over the other 5', () => {
  // epochs 10, 10 steps/epoch, lr 0.1, min 0.001, warmup 5, start 0.1:
  // t=0 → 0.01; t=2.5 → 0.1(0.1 + 0.9·0.5) = 0.055; t=4.9 → 0.1(0.1 + 0.9·0.98) = 0.0982;
  // t=5 → 0.1 (cosine starts); t=7.5 → 0.001 + 0.099·(1 + cos(π/2))/2 = 0.0505;
  // t=9.9 → 0.001 + 0.099(1 + cos(0.98π))/2.
  const cfg: LrConfig = { kind: 'cosine', lr: 0.1, min: 0.001, warmup: 5, warmupStart: 0.1 };
  const got = lrs(cfg, 10, 10, [0, 25, 49, 50, 75, 99]);
  close(got, [0.01, 0.055, 0.0982, 0.1, 0.0505, 0.001 + 0.0495 * (1 + Math.cos(0.98 * Math.PI))], 1e-15, 'warmup');
});

/** OneCycleLR.get_lr (two phases, 'cos') written out from the PyTorch docs/source, for max_lr etc. */
function torchOneCycle(step: number, total: number, maxLr: number, pct = 0.3, div = 25, finalDiv = 1e4): [number, number] {
  const initial = maxLr / div, minLr = initial / finalDiv;
  const cos = (a: number, b: number, p: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * p) + 1);
  const end1 = pct * total - 1, end2 = total - 1;
  if (step <= end1) return [cos(initial, maxLr, step / end1), cos(0.95, 0.85, step / end1)];
  const p = (step - end1) / (end2 - end1);
  return [cos(maxLr, minLr, p), cos(0.85, 0.95, p)];
}

test('lr onecycle: OneCycleLR(max_lr=0.1, total_steps=100) hand-derived values', () => {
  // initial_lr = 0.1/25 = 0.004, min_lr = 0.004/1e4 = 4e-7. Phase 1 ends at step 0.3·100 − 1 = 29,
  // phase 2 runs from step 29 to 99. step 14: pct 14/29, cos(π·14/29) = 0.0541389085854175, so
  // 0.1 − 0.048·1.0541389085854175 = 0.0494013323878999; step 64: pct (64 − 29)/70 = 0.5 → the
  // midpoint 4e-7 + (0.1 − 4e-7)/2 = 0.0500002.
  const got = lrs({ kind: 'onecycle', maxLr: 0.1 }, 10, 10, [0, 14, 29, 64, 99]);
  close(got, [0.004, 0.0494013323878999, 0.1, 0.0500002, 4e-7], 1e-13, 'onecycle');
});

test('lr onecycle: every step equals the written-out OneCycleLR, odd sizes and pct_start', () => {
  for (const [epochs, spe, pct] of [[7, 13, 0.3], [3, 391, 0.25], [1, 50, 0.45]] as const) {
    const s = new TrainingSchedule({ epochs, stepsPerEpoch: spe, lr: { kind: 'onecycle', maxLr: 0.4, pctStart: pct },
      momentum: { kind: 'onecycle' } });
    for (let k = 0; k < epochs * spe; k++) {
      const [lr, mom] = torchOneCycle(k, epochs * spe, 0.4, pct);
      const p = s.at(k);
      assert.ok(Math.abs(p.lr - lr) <= 1e-15 && Math.abs(p.momentum - mom) <= 1e-15,
        `${epochs}x${spe} pct ${pct} step ${k}: got (${p.lr}, ${p.momentum}), expected (${lr}, ${mom})`);
    }
  }
});

test('lr: the step boundary is the fractional epoch t = step / stepsPerEpoch', () => {
  const s = new TrainingSchedule({ epochs: 4, stepsPerEpoch: 3, lr: { kind: 'cosine', lr: 0.2 }, momentum: { kind: 'constant' } });
  const p = s.at(5);
  assert.is(p.epoch, 5 / 3);
  assert.ok(Math.abs(p.lr - 0.1 * (1 + Math.cos((Math.PI * 5) / 12))) < 1e-15, `lr ${p.lr}`);
});

test.run();
