package dev.tessera.loadtest.transport;

import dev.tessera.api.v1.DetectRequest;
import dev.tessera.api.v1.Detections;
import dev.tessera.api.v1.Image;
import dev.tessera.api.v1.ImageFormat;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.loadtest.measure.OutputNames;
import dev.tessera.loadtest.measure.RequestTrace;
import dev.tessera.loadtest.workload.ChatImage;
import dev.tessera.loadtest.workload.LoadRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One {@code Inference/Detect} stream per request: {@code frames} copies of one image sent at {@code fps}, at
 * absolute times, then a half-close. Each {@code Detections} is an answered frame: its latency (the frame's send to
 * its answer) and the frames the server skipped before it go to the trace ({@link OutputNames#DETECTION}). The
 * request's own content is not used: a detection stream's work is its frames.
 */
public final class DetectTransport implements Transport {
    private final ManagedChannel channel;
    private final InferenceGrpc.InferenceStub stub;
    private final Image image;
    private final String model;
    private final int frames;
    private final long periodNanos;
    private final ScheduledExecutorService clock = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "loadtest-frames");
        t.setDaemon(true);
        return t;
    });

    public DetectTransport(String host, int port, String model, ChatImage image, int frames, double fps) {
        if (frames < 1) throw new IllegalArgumentException("frames must be >= 1, got " + frames);
        if (!(fps > 0)) throw new IllegalArgumentException("fps must be > 0, got " + fps);
        this.channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().directExecutor().build();
        this.stub = InferenceGrpc.newStub(channel);
        this.image = Image.newBuilder().setData(image.data()).setFormat(image.mediaType().equals("image/png")
                ? ImageFormat.IMAGE_FORMAT_PNG : ImageFormat.IMAGE_FORMAT_JPEG).build();
        this.model = model;
        this.frames = frames;
        this.periodNanos = Math.round(1e9 / fps);
    }

    @Override
    public void send(LoadRequest request, RequestTrace trace) {
        long[] sent = new long[frames];
        StreamObserver<DetectRequest> out = stub.detect(new StreamObserver<>() {
            @Override
            public void onNext(Detections d) {
                int id = (int) d.getFrameId();
                if (id >= 0 && id < frames) trace.frame(sent[id], d.getSkippedFrames());
            }

            @Override
            public void onError(Throwable t) {
                Status s = Status.fromThrowable(t);
                trace.failed(s.getCode().name(), String.valueOf(s.getDescription()));
            }

            @Override
            public void onCompleted() {
                trace.completed(-1);
            }
        });
        long start = System.nanoTime(); // when to send runs on the real clock; what is measured, on the trace's
        for (int k = 0; k < frames; k++) {
            int frame = k;
            clock.schedule(() -> {
                if (trace.ended()) return;
                sent[frame] = trace.now();
                out.onNext(DetectRequest.newBuilder().setModel(model).setFrameId(frame).setImage(image).build());
                if (frame == frames - 1) out.onCompleted();
            }, start + k * periodNanos - System.nanoTime(), TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public String name() {
        return "detect";
    }

    @Override
    public OutputNames names() {
        return OutputNames.DETECTION;
    }

    @Override
    public void close() {
        clock.shutdownNow();
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
