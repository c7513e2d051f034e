// Node data API: everything in ./index plus the file-system, gzip, download and sharp loaders.
export * from './index';
export * from './download.node';
export * from './imagefolder.node';
export * from './load.node';
export * from './rundata.node';
