package provider

// Ready reports whether the next chunk is already read: the relay then keeps the chunk it
// has for the same write as the next one.
func (s *openAIStream) Ready() bool { return !s.done && s.r.Ready() }

// Ready reports whether the next event is already read.
func (s *nativeStream) Ready() bool { return s.r.Ready() }

// Ready reports whether the next chunk is translated already, or its upstream event read.
func (s *translatedStream) Ready() bool {
	return len(s.pending) > 0 || !s.done && !s.ended && s.sse != nil && s.sse.Ready()
}
