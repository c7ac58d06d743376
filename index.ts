// index.ts: the library (api/) and the Mirasol application's entry points (apps/mirasol/). The CLI is a
// thin layer over these functions; docs/api.md shows them in use.
export { compile, compileFile, type CompileOptions, type CompiledModel, ModelSession } from "./api/compile.js";
export {
  loadModel,
  modelFromSource,
  ModelError,
  InputError,
  type LoadedModel,
  type ModelOptions,
} from "./api/model.js";
export { type TrainOptions, type TrainResult, trainText } from "./api/train.js";
export { type AvTrainOptions, type AvTrainResult, train, trainAv } from "./apps/mirasol/train-av.js";
export { generate, type GenerateOptions, type GenerateResult } from "./api/generate.js";
export { type BatchRow, type GenerateBatchOptions, generateBatch } from "./api/generate-batch.js";
export { evaluate, type EvalOptions } from "./apps/mirasol/eval.js";
export { AvAnswerer, type Answer, type ClipQuestion } from "./apps/mirasol/ask.js";
export { ClipStream, type StreamedAnswer, deriveModelStream, streamAnswer } from "./apps/mirasol/stream.js";
export { exportModel, type ExportOptions, type ExportResult } from "./api/export.js";
export { getGpu, type Gpu } from "./runtime/device.js";
export { CheckpointError, loadCheckpoint, saveCheckpoint } from "./runtime/checkpoint.js";
