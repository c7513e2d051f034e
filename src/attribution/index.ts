// Diagnosis and surgical correction: which layers the errors of a trained network come from, do
// two attributions agree, and retraining only those layers.
export { units, unitsOf, resolveUnits, moduleOf, unitOf, type Granularity, type Unit } from './layers';
export { ranks, topK, spearman, kendallTauB, overlapPValue, compareAttributions, type Comparison, type Scores } from './compare';
export { METRICS, segmentSums, unitSums, unitScore, rankUnits, type UnitSums, type Metric, type SegmentSums, type ScoreRow, type Ranking } from './scores';
export { overlapPValueMonteCarlo, type MonteCarloPValue } from './permutation';
export { attribute, gradientSums, type Aggregation, type AttributeOptions, type Attribution } from './attribute';
export { correct, type CorrectOptions, type CorrectionReport } from './correct';
export { autoRgnFineTune } from './autorgn';
export { correctWithControls, shareMatchedDraws, DEFAULT_BAND, DEFAULT_DRAWS, type ControlOptions, type ControlRow, type AblationRow, type ControlResult, type DrawPlan, type DrawSet, type ControlMethod } from './controls';
