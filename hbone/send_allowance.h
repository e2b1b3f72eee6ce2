#pragma once
// How much of its app a stream may read now (TCP -> HTTP/2), decided from what it
// holds and from what the peer lets out. Pure; FdStreamBridge asks it before every
// read and whenever it decides whether to watch its app socket for reading.
//
// Why the peer's window and not only the send buffer: bytes read from the app wait
// in user space until the peer's HTTP/2 window lets them out. A peer that opens
// streams with SETTINGS_INITIAL_WINDOW_SIZE=0 and never sends WINDOW_UPDATE (the
// zero-window reader of the attack suite) would otherwise make the tunnel fill one
// send buffer per stream (400 streams x 256 KiB) with bytes that can never leave,
// and keep copying its app's output for nothing. Bounded by the window, the app
// side stays in the kernel's socket buffers, the app blocks, and the tunnel stops
// watching that socket until a WINDOW_UPDATE (or SETTINGS) opens the window again.

#include <cstddef>
#include <cstdint>

namespace warren::hbone {

// `buffered`: bytes already read from the app and not yet taken by the session;
// `capacity`: the stream's send buffer; `peerWindow`: the smaller of the peer's
// stream and connection windows (negative after a SETTINGS shrank it: treated as
// closed). The result is never more than the buffer's room, and never lets the
// buffer hold more than the window.
size_t appReadAllowance(size_t buffered, size_t capacity, int64_t peerWindow);

}  // namespace warren::hbone
