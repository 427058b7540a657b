package dev.tessera.loadtest.transport;

import dev.tessera.api.v1.DiffuseRequest;
import dev.tessera.api.v1.DiffuseResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.loadtest.measure.OutputNames;
import dev.tessera.loadtest.measure.RequestTrace;
import dev.tessera.loadtest.workload.LoadRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.TimeUnit;

/**
 * One {@code Inference/Diffuse} call per request: the request's prompt (a chat's last message text) with a fixed
 * number of denoising steps and a preview every {@code previewEvery} steps. Each preview and each image is an
 * output arriving (an image counts as one output, a preview as none), so the first output is the first preview,
 * the gaps are between previews, and the end-to-end latency is the image latency ({@link OutputNames#DIFFUSION}).
 */
public final class DiffuseTransport implements Transport {
    private final ManagedChannel channel;
    private final InferenceGrpc.InferenceStub stub;
    private final String model;
    private final int steps;
    private final int previewEvery;

    public DiffuseTransport(String host, int port, String model, int steps, int previewEvery) {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        if (previewEvery < 0) throw new IllegalArgumentException("preview every must be >= 0, got " + previewEvery);
        this.channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().directExecutor().build();
        this.stub = InferenceGrpc.newStub(channel);
        this.model = model;
        this.steps = steps;
        this.previewEvery = previewEvery;
    }

    @Override
    public void send(LoadRequest request, RequestTrace trace) {
        String prompt = request.prompt() != null ? request.prompt()
                : request.messages().get(request.messages().size() - 1).content();
        DiffuseRequest d = DiffuseRequest.newBuilder().setModel(model).setPrompt(prompt).setSteps(steps)
                .setPreviewEvery(previewEvery).setSeed(request.inputLength() & 0xffff).build();
        stub.diffuse(d, new StreamObserver<>() {
            @Override
            public void onNext(DiffuseResponse r) {
                switch (r.getEventCase()) {
                    case PREVIEW -> trace.tokens(0);
                    case IMAGE -> trace.tokens(1);
                    default -> {
                    }
                }
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
    }

    @Override
    public String name() {
        return "diffuse";
    }

    @Override
    public OutputNames names() {
        return OutputNames.DIFFUSION;
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
