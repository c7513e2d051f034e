// Browser-safe data API: types, helpers and parsers that work on bytes.
export * from './dataset';
export * from './cifar';
export * from './idx';
export * from './tar';
export { acquireResident, releaseResident, residentUsers, residentBytes, fitsResident, DEFAULT_RESIDENT_BYTES, type ResidentDataset } from './resident';
export * from './split';
