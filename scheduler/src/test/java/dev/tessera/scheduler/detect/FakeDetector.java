package dev.tessera.scheduler.detect;

import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobFailure;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;

/**
 * A detector for lane tests: frames are raw RGB8; each frame yields one "cat" whose score is its first byte / 255
 * and whose box is the whole frame. Steps can be held at a gate, and every step's frame ids are logged.
 */
final class FakeDetector implements FrameDetector<FakeDetector.Frame> {
    record Frame(int width, int height, int firstByte) {
    }

    final List<List<Integer>> steps = new CopyOnWriteArrayList<>();
    /** When not null, each step takes a permit first (tests hold steps back with it). */
    volatile Semaphore gate;
    private final int maxFrames;

    FakeDetector(int maxFrames) {
        this.maxFrames = maxFrames;
    }

    /** An RGB8 frame whose first byte is {@code score255}. */
    static ImageData image(int width, int height, int score255) {
        byte[] data = new byte[width * height * 3];
        data[0] = (byte) score255;
        return new ImageData(data, ImageData.Format.RGB8, width, height);
    }

    @Override
    public String name() {
        return "fake-detr";
    }

    @Override
    public String architecture() {
        return "FakeForObjectDetection";
    }

    @Override
    public List<String> labels() {
        return List.of("cat", "dog", "N/A", "N/A");
    }

    @Override
    public int maxFramesPerStep() {
        return maxFrames;
    }

    @Override
    public Frame prepare(ImageData image) {
        if (image.format() != ImageData.Format.RGB8) {
            throw JobFailure.invalid("image.format", "this detector reads RGB8 only").exception();
        }
        if (image.width() * image.height() * 3 != image.data().length || image.data().length == 0) {
            throw JobFailure.invalid("image.data", image.data().length + " bytes do not make a " + image.width()
                    + "x" + image.height() + " RGB8 image").exception();
        }
        return new Frame((int) image.width(), (int) image.height(), image.data()[0] & 0xff);
    }

    @Override
    public List<List<JobEvent.Detection>> detect(List<Frame> frames, List<FrameOptions> options) {
        Semaphore g = gate;
        if (g != null) g.acquireUninterruptibly();
        List<Integer> log = new ArrayList<>();
        List<List<JobEvent.Detection>> out = new ArrayList<>();
        for (int i = 0; i < frames.size(); i++) {
            Frame f = frames.get(i);
            log.add(f.firstByte());
            float score = f.firstByte() / 255f;
            FrameOptions o = options.get(i);
            List<JobEvent.Detection> dets = new ArrayList<>();
            if (score >= o.threshold() && (o.labelIds().isEmpty() || o.labelIds().contains(0))) {
                dets.add(new JobEvent.Detection(0, "cat", score, 0, 0, f.width(), f.height()));
            }
            if (score >= o.threshold() && o.labelIds().contains(3)) { // a repeated name: the filter keeps every id
                dets.add(new JobEvent.Detection(3, "N/A", score, 0, 0, f.width(), f.height()));
            }
            out.add(dets.subList(0, Math.min(dets.size(), o.maxDetections())));
        }
        steps.add(log);
        return out;
    }
}
