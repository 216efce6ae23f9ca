/*
 * inline_ring_buffer.h: the spike ring buffer of the microcircuit's NESTML neuron, kept inside the neuron.
 *
 * Part of microcircuit (python build.py copies it next to the generated neuron and the build's edits
 * include it; microcircuit/build/edits.py).
 *
 * Same semantics as nest::RingBuffer of NEST 3.10 (the slot of a delivery step is
 * kernel().event_delivery_manager.get_modulo(offs), over min_delay + max_delay steps; get_value reads
 * and clears the slot), but the slots live in the neuron object itself when they fit into Capacity,
 * instead of in a separately allocated std::vector. Every delivered spike writes one slot of its target
 * neuron and every update reads one: with the slots in the object, the address of the slot follows from
 * the neuron's address, without first loading the vector's data pointer from the neuron, which at
 * network size is a cache miss of its own (perf: most of a PD14 simulation is spent in these two
 * accesses; docs/benchmarks.md). A network whose delays need more than Capacity slots uses a heap
 * vector, as nest::RingBuffer does; the branch between the two is predicted and does not wait for
 * memory.
 */
#ifndef MICROCIRCUIT_INLINE_RING_BUFFER_H
#define MICROCIRCUIT_INLINE_RING_BUFFER_H

#include <algorithm>
#include <cstddef>
#include <vector>

#include "kernel_manager.h"

namespace microcircuit
{

template < std::size_t Capacity >
class InlineRingBuffer
{
public:
  InlineRingBuffer()
  {
    std::fill( slots_, slots_ + Capacity, 0.0 );
  }

  //! Add v to the slot of delivery step offs (relative to the current slice origin).
  void
  add_value( const long offs, const double v )
  {
    slot_( offs ) += v;
  }

  //! The value of step offs of the current slice; the slot is cleared for reuse.
  double
  get_value( const long offs )
  {
    double& s = slot_( offs );
    const double v = s;
    s = 0.0;
    return v;
  }

  //! Size for the kernel's current min_delay + max_delay and set every slot to zero.
  void
  clear()
  {
    const std::size_t size =
      nest::kernel().connection_manager.get_min_delay() + nest::kernel().connection_manager.get_max_delay();
    if ( size <= Capacity )
    {
      std::vector< double >().swap( heap_ );
    }
    else
    {
      heap_.assign( size, 0.0 );
    }
    std::fill( slots_, slots_ + Capacity, 0.0 );
  }

private:
  double&
  slot_( const long offs )
  {
    const long i = nest::kernel().event_delivery_manager.get_modulo( offs );
    return heap_.empty() ? slots_[ i ] : heap_[ i ];
  }

  std::vector< double > heap_; //!< used only when the delays need more than Capacity slots
  double slots_[ Capacity ];
};

} // namespace microcircuit

#endif
