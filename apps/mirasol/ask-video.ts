// ask-video.ts (mirasol): questions about a real video file, answered by a checkpoint trained on an
// audio-video QA set — the file imported (datasets/av-import.ts) into a temporary set with the
// layout of the checkpoint's training set (its sizes, vocabulary and audio statistics, so the model
// reads the clip as it read its training clips), then asked through AvAnswerer.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataError } from "../../datasets/av-format.js";
import { type ImportResult, importClip } from "../../datasets/av-import.js";
import { type ImportLayout, layoutLike } from "../../datasets/import-layout.js";
import type { MediaTools } from "../../datasets/media.js";
import { type Answer, AvAnswerer } from "./ask.js";
import { openTrained } from "../../api/trained.js";

export interface VideoQuestions {
  readonly checkpoint: string;
  readonly video: string;
  readonly audio?: string;
  readonly questions: readonly string[];
  readonly tools?: MediaTools;
}

export interface VideoAnswers {
  readonly imported: ImportResult;
  readonly answers: readonly Answer[];
}

/** The layout of the set `checkpoint` was trained on; a DataError that says so when it is gone. */
export function trainedLayout(checkpoint: string): ImportLayout {
  const data = openTrained(checkpoint, "av-qa", "answering questions about a video").meta.data;
  try {
    return layoutLike(data);
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    throw new DataError(
      `a video is read with the sizes, vocabulary and audio statistics of the set ${checkpoint} was trained on, ` +
        `${data}, which cannot be read: ${e.message}`,
    );
  }
}

export async function answerAboutVideo(o: VideoQuestions): Promise<VideoAnswers> {
  const layout = trainedLayout(o.checkpoint);
  const dir = mkdtempSync(join(tmpdir(), "mira-video-"));
  try {
    const imported = await importClip({ video: o.video, audio: o.audio, out: dir, layout, tools: o.tools });
    const answerer = await AvAnswerer.open(o.checkpoint, dir);
    try {
      const answers: Answer[] = [];
      for (const q of o.questions) answers.push(await answerer.answer(0, q));
      return { imported, answers };
    } finally {
      answerer.destroy();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
