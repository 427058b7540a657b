package dev.tessera.gateway.launch;

import java.util.concurrent.CountDownLatch;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT, caught so that {@code serve} drains on the main thread and chooses its exit code: the JVM's
 * own handling runs shutdown hooks and exits 143 (or 130) however cleanly the drain went.
 */
final class ShutdownSignal {
    private final CountDownLatch received = new CountDownLatch(1);
    private volatile String name = "";

    private ShutdownSignal() {
    }

    /** Catches SIGTERM and SIGINT from now on. */
    static ShutdownSignal install() {
        ShutdownSignal s = new ShutdownSignal();
        for (String signal : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(signal), sig -> {
                s.name = "SIG" + sig.getName();
                s.received.countDown();
            });
        }
        return s;
    }

    /** Waits for a signal and returns its name, e.g. {@code SIGTERM}. */
    String await() throws InterruptedException {
        received.await();
        return name;
    }
}
