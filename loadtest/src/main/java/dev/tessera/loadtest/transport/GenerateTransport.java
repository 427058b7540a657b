package dev.tessera.loadtest.transport;

import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.loadtest.measure.RequestTrace;
import dev.tessera.loadtest.workload.LoadRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One {@code Inference/Generate} call per request, round robin over a few HTTP/2 connections. Callbacks run on the
 * transport threads (direct executor), so a token is timed when its frame is decoded.
 */
public final class GenerateTransport implements Transport {
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<InferenceGrpc.InferenceStub> stubs = new ArrayList<>();
    private final String model;
    private int next;

    public GenerateTransport(String host, int port, int connections, String model) {
        if (connections < 1) throw new IllegalArgumentException("connections must be >= 1, got " + connections);
        for (int i = 0; i < connections; i++) {
            ManagedChannel ch = NettyChannelBuilder.forAddress(host, port).usePlaintext().directExecutor().build();
            channels.add(ch);
            stubs.add(InferenceGrpc.newStub(ch));
        }
        this.model = model;
    }

    @Override
    public void send(LoadRequest request, RequestTrace trace) {
        InferenceGrpc.InferenceStub stub = stubs.get(next);
        next = (next + 1) % stubs.size();
        stub.generate(Requests.grpc(request, model), new StreamObserver<>() {
            @Override
            public void onNext(GenerateResponse value) {
                if (value.hasDelta() && value.getDelta().getTokenIdsCount() > 0) {
                    trace.tokens(value.getDelta().getTokenIdsCount(), System.nanoTime());
                }
            }

            @Override
            public void onError(Throwable t) {
                Status s = Status.fromThrowable(t);
                trace.failed(System.nanoTime(), s.getCode().name(), String.valueOf(s.getDescription()));
            }

            @Override
            public void onCompleted() {
                trace.completed(System.nanoTime(), -1);
            }
        });
    }

    @Override
    public String name() {
        return "grpc";
    }

    @Override
    public void close() {
        for (ManagedChannel ch : channels) ch.shutdownNow();
        try {
            for (ManagedChannel ch : channels) ch.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
