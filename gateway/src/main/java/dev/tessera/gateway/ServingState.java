package dev.tessera.gateway;

/** Where the server is in its life. Health says SERVING only in {@link #SERVING}. */
public enum ServingState {
    /** Listening, the model is loading: calls get UNAVAILABLE, health NOT_SERVING. */
    LOADING,
    /** The model is loaded and calls are admitted. */
    SERVING,
    /** Shutting down: in-flight calls finish, new calls get UNAVAILABLE, health NOT_SERVING. */
    DRAINING,
    /** Closed. */
    STOPPED
}
