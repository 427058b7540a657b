/**
 * Object detection streams: {@link dev.tessera.scheduler.detect.DetectModel} (a served detector), its input
 * ({@code FramePipeline}: one frame prepared at a time per stream, the newest wins) and its lane
 * ({@code DetectLane}: the frame batcher across streams).
 */
@NullMarked
package dev.tessera.scheduler.detect;

import org.jspecify.annotations.NullMarked;
