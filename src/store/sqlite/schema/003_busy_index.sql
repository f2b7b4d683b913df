-- Schema version 3 of the SQLite driver: an index of the bookings that
-- can block.
--
-- The busy-time query (store/bookings.c, bk_store_booking_busy) reads only
-- bookings that can occupy time: the statuses core's rule says block
-- (confirmed 1, completed 3, no-show 4) and the held one (pending 0, while
-- its hold lasts). Cancelled bookings pile up as history grows and are
-- left out of this index, so a host's busy time is read from the rows that
-- can block and no others. The query spells the same list, built from
-- core/booking.h at run time; the store contract test checks that the
-- planner uses this index (docs/store.md "Busy time"). A change of core's
-- rule needs a new migration with the new list.
CREATE INDEX bookings_host_end_blocking ON bookings (host_id, end_utc)
    WHERE status IN (0, 1, 3, 4);
-- It served only the busy-time query.
DROP INDEX bookings_host_end;
