// Faults during training, each survived with nothing lost: a device lost mid-run (one error naming the
// checkpoint kept; --resume continues bit for bit), buffers the device cannot allocate (one line naming
// the size and the fix), a disk that fills up while a checkpoint is written (one line, the previous
// checkpoint whole), and training data that changed under a resumed run (refused, named).
import { readFileSync, readdirSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { type TrainOptions, trainText } from "../../api/train.js";
import { describeFailure } from "../../cli/errors.js";
import { CheckpointError, CheckpointWriteError, loadCheckpoint } from "../../runtime/checkpoint.js";
import { DeviceLostError, OutOfMemoryError } from "../../runtime/device.js";
import { testGpu } from "../helpers/gpu.js";
import { textDataFolder } from "../helpers/text-data.js";

const { dir, data } = textDataFolder("mira-faults-");
const base: TrainOptions = {
  model: "models/char_lm.mira",
  data,
  preset: "tiny",
  steps: 16,
  batch: 4,
  window: 16,
  runsDir: dir,
  seed: 2,
  logEvery: 1,
  evalEvery: 1000,
  checkpointEvery: 5,
};

async function failure(work: Promise<unknown>): Promise<Error> {
  try {
    await work;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the work to fail");
}

test("a device lost mid-run: one error naming the checkpoint kept, and --resume continues bit for bit", async () => {
  await trainText({ ...base, run: "straight" });
  const gpu = await testGpu();
  const err = await failure(
    trainText({ ...base, run: "lost", onProgress: (p) => p.step === 7 && gpu.device.destroy() }),
  );
  expect(err).toBeInstanceOf(DeviceLostError);
  const ckpt = join(dir, "lost", "checkpoint.safetensors");
  const { text, code } = describeFailure(err, false);
  expect(text).toMatch(
    new RegExp(
      /^mira: the GPU device was lost after step [78] \(destroyed.*\); /.source +
        /the last checkpoint, .*checkpoint\.safetensors \(step 5\), is intact: /.source +
        /continue with --resume$/.source,
    ),
  );
  expect(text).toContain(ckpt);
  expect(code).toBe(3);
  expect(loadCheckpoint(ckpt).metadata.step).toBe("5");

  await trainText({ ...base, run: "lost", resume: true });
  const a = loadCheckpoint(join(dir, "straight", "checkpoint.safetensors"));
  const b = loadCheckpoint(ckpt);
  expect(b.metadata.step).toBe("16");
  expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
  for (const [name, t] of a.tensors)
    expect(Buffer.from(b.tensors.get(name)!.bytes).equals(Buffer.from(t.bytes)), name).toBe(true);
});

test("buffers the device cannot allocate: one line naming the size and what to change", async () => {
  const gpu = await testGpu();
  const { device } = gpu;
  const real = device.createBuffer.bind(device);
  // Every large buffer asks for the most the device allows: more memory than it has, however large.
  device.createBuffer = (d: GPUBufferDescriptor) =>
    real(d.size >= 1024 ? { ...d, size: device.limits.maxBufferSize } : d);
  try {
    const err = await failure(trainText({ ...base, run: "oom" }));
    expect(err).toBeInstanceOf(OutOfMemoryError);
    const { text, code } = describeFailure(err, false);
    expect(text).toMatch(
      new RegExp(
        /^mira: the device ran out of memory allocating [\d.]+ [KMG]?i?B of buffers \(the largest, /.source +
          /.*\); lower --batch or --window, or use a smaller --preset$/.source,
      ),
    );
    expect(code).toBe(3);
  } finally {
    delete (device as Partial<GPUDevice>).createBuffer;
  }
});

test("a disk that fills up while a checkpoint is written: one line, the previous checkpoint whole", async () => {
  let checkpoints = 0;
  const full = (fd: number, bytes: Uint8Array, offset: number, length: number): number => {
    if (offset === 0) checkpoints++;
    if (checkpoints === 2 && offset > 0)
      throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
    return writeSync(fd, bytes, offset, Math.min(length, 4096));
  };
  const err = await failure(trainText({ ...base, steps: 12, run: "full", writeHooks: { write: full } }));
  expect(err).toBeInstanceOf(CheckpointWriteError);
  const ckpt = join(dir, "full", "checkpoint.safetensors");
  const { text, code } = describeFailure(err, false);
  expect(text).toBe(
    `mira: step 10's checkpoint was not saved: cannot write ${ckpt}: the disk is full (ENOSPC); ` +
      `the file there is unchanged; ` +
      `the last checkpoint, ${ckpt} (step 5), is intact: continue with --resume once there is room`,
  );
  expect(code).toBe(3);
  expect(loadCheckpoint(ckpt).metadata.step).toBe("5");
  expect(readdirSync(join(dir, "full")).filter((f) => f.includes(".tmp-"))).toEqual([]);
});

test("training data that changed under a resumed run is refused, naming it", async () => {
  const changed = join(dir, "changed.txt");
  writeFileSync(changed, readFileSync(data, "utf8"));
  await trainText({ ...base, data: changed, steps: 5, run: "data" });
  writeFileSync(changed, readFileSync(data, "utf8").replace("quiet", "loud"));
  const err = await failure(trainText({ ...base, data: changed, steps: 10, run: "data", resume: true }));
  expect(err).toBeInstanceOf(CheckpointError);
  expect(describeFailure(err, false).text).toMatch(
    new RegExp(
      /^mira: the training data .*changed\.txt changed since .*checkpoint\.safetensors was saved /.source +
        /\(fingerprint [0-9a-f]{12}, the checkpoint's [0-9a-f]{12}\); /.source +
        /resume with the data it was trained on, or start a new --run$/.source,
    ),
  );
});
