package dev.tessera.bench;

import com.google.protobuf.ByteString;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * A hostile client of {@code bench overload}: 4 MB prompts (over the model's byte bound, so each is refused) sent
 * one after another on one connection, alternately as a {@code Generate} request and as a {@code Session} message,
 * each after the last one's answer (a closed loop), counted. Runs in the bench's JVM (a thread) or in a process of
 * its own ({@link #main}), so that the canary beside it can be measured without the storm's own CPU bursts, GC and
 * transport threads inside the canary client's JVM.
 */
final class HugePromptStorm {
    private HugePromptStorm() {
    }

    /** Sends until interrupted, {@code pauseMs} after each refusal (0: none), telling the refusals so far. */
    static void run(ManagedChannel storm, long pauseMs, LongConsumer refusedSoFar) throws InterruptedException {
        // the prompt held as UTF-8 bytes: the client encodes it once, not at every send
        GenerateRequest huge = GenerateRequest.newBuilder()
                .setPromptBytes(ByteString.copyFromUtf8("a".repeat(4_000_000)))
                .setSampling(SamplingParams.newBuilder().setMaxTokens(4)).build();
        SessionRequest hugeSession = SessionRequest.newBuilder().setRequestId("huge").setGenerate(huge).build();
        boolean session = false;
        long refused = 0;
        while (!Thread.currentThread().isInterrupted()) {
            if (session) {
                sessionOnce(storm, hugeSession);
            } else {
                try {
                    InferenceGrpc.newBlockingStub(storm).generate(huge).forEachRemaining(m -> { });
                } catch (RuntimeException expected) {
                    // INVALID_ARGUMENT: the prompt is over the limit, as intended
                }
            }
            session = !session;
            refusedSoFar.accept(++refused);
            if (pauseMs > 0) Thread.sleep(pauseMs);
        }
    }

    /** One Session carrying {@code message}: waits for its answer (a JobError), then ends the Session. */
    private static void sessionOnce(ManagedChannel channel, SessionRequest message) throws InterruptedException {
        CountDownLatch answered = new CountDownLatch(1);
        StreamObserver<SessionRequest> requests = InferenceGrpc.newStub(channel).session(new StreamObserver<>() {
            @Override
            public void onNext(SessionResponse value) {
                answered.countDown();
            }

            @Override
            public void onError(Throwable t) {
                answered.countDown();
            }

            @Override
            public void onCompleted() {
                answered.countDown();
            }
        });
        requests.onNext(message);
        answered.await(30, TimeUnit.SECONDS);
        requests.onCompleted();
    }

    /** A storm in a child process: its refusals so far, read from the lines it prints. */
    static final class Child implements AutoCloseable {
        private final Process process;
        private final AtomicLong refused = new AtomicLong();

        private Child(Process process) {
            this.process = process;
            Thread reader = new Thread(() -> {
                try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = lines.readLine()) != null; ) {
                        if (line.startsWith("refused ")) refused.set(Long.parseLong(line.substring(8).trim()));
                    }
                } catch (IOException | NumberFormatException e) {
                    // the child ended
                }
            }, "storm-child-reader");
            reader.setDaemon(true);
            reader.start();
        }

        /** Starts {@code java -cp <this classpath> HugePromptStorm port} with this JVM's java. */
        static Child start(int port) throws IOException {
            String java = ProcessHandle.current().info().command().orElse("java");
            List<String> command = new ArrayList<>(List.of(java, "-Xmx256m", "-cp",
                    System.getProperty("java.class.path"), HugePromptStorm.class.getName(), Integer.toString(port)));
            return new Child(new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start());
        }

        long refused() {
            return refused.get();
        }

        long pid() {
            return process.pid();
        }

        /** Waits until the child has had {@code n} prompts refused (its JVM started, its loop running). */
        void awaitRefused(long n, long timeoutMs) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            while (refused.get() < n) {
                if (!process.isAlive() || System.nanoTime() > end) {
                    throw new IllegalStateException("the storm process had " + refused.get() + " prompts refused, "
                            + "not " + n + (process.isAlive() ? " in time" : "; it ended with " + process.exitValue()));
                }
                Thread.sleep(10);
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
        }
    }

    /**
     * The storm in a process of its own: {@code port}; prints {@code refused N} after each refusal; ends when its
     * standard input closes (the bench ended) or it is stopped.
     */
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // nothing is sent; end of input means the bench is gone
                }
            } catch (IOException e) {
                // the same
            }
            System.exit(0);
        }, "stdin-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        ManagedChannel storm = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        try {
            run(storm, 0, n -> {
                System.out.println("refused " + n);
                System.out.flush();
            });
        } finally {
            storm.shutdownNow();
        }
    }
}
