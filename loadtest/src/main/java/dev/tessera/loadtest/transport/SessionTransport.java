package dev.tessera.loadtest.transport;

import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.loadtest.measure.RequestTrace;
import dev.tessera.loadtest.workload.LoadRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Every request a {@code generate} job on one {@code Inference/Session} stream, told apart by {@code request_id}.
 * A job ends with its {@code Finished} (one sample) or its {@code JobError}; if the stream itself breaks, its jobs
 * fail with the stream's status and the next request opens a new stream.
 */
public final class SessionTransport implements Transport {
    private final ManagedChannel channel;
    private final InferenceGrpc.InferenceStub stub;
    private final String model;
    private final Map<String, RequestTrace> live = new ConcurrentHashMap<>();
    private @Nullable StreamObserver<SessionRequest> stream;
    private int ids;

    public SessionTransport(String host, int port, String model) {
        this.channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().directExecutor().build();
        this.stub = InferenceGrpc.newStub(channel);
        this.model = model;
    }

    @Override
    public void send(LoadRequest request, RequestTrace trace) {
        String id = Integer.toString(ids++);
        live.put(id, trace);
        synchronized (this) {
            if (stream == null) stream = open();
            stream.onNext(SessionRequest.newBuilder().setRequestId(id).setGenerate(Requests.grpc(request, model))
                    .build());
        }
    }

    private StreamObserver<SessionRequest> open() {
        return stub.session(new StreamObserver<>() {
            @Override
            public void onNext(SessionResponse r) {
                RequestTrace trace = live.get(r.getRequestId());
                if (trace == null) return;
                switch (r.getKindCase()) {
                    case DELTA -> {
                        if (r.getDelta().getTokenIdsCount() > 0) {
                            trace.tokens(r.getDelta().getTokenIdsCount());
                        }
                    }
                    case FINISHED -> {
                        live.remove(r.getRequestId());
                        trace.completed(-1);
                    }
                    case ERROR -> {
                        live.remove(r.getRequestId());
                        trace.failed(Status.fromCodeValue(r.getError().getCode()).getCode().name(),
                                r.getError().getMessage());
                    }
                    default -> {
                    }
                }
            }

            @Override
            public void onError(Throwable t) {
                Status s = Status.fromThrowable(t);
                broken(s.getCode().name(), String.valueOf(s.getDescription()));
            }

            @Override
            public void onCompleted() {
                broken("UNKNOWN", "the session ended with jobs in flight");
            }
        });
    }

    private void broken(String status, String message) {
        synchronized (this) {
            stream = null;
        }
        for (Map.Entry<String, RequestTrace> e : live.entrySet()) {
            if (live.remove(e.getKey()) != null) e.getValue().failed(status, message);
        }
    }

    @Override
    public String name() {
        return "session";
    }

    @Override
    public void close() {
        synchronized (this) {
            if (stream != null) stream.onCompleted();
            stream = null;
        }
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
