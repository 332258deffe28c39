"""The Lua scripts of the Redis prediction log (redis.py's RedisLogStore runs them), each with
the comment that names its KEYS and ARGV. The keys and the rings they write and read are described
in redis.py's docstring; the records the rings hold, in redis_records.py.
"""

# What every script that writes or reads the rings shares. A ring is one string of fixed-size
# records, the entry of id n in slot n % slots, its first 8 bytes its id (zeros: an empty slot).
# Its size follows the log's capacity (the next power of two, at least 1024 slots): a larger
# capacity rebuilds it, records moved to their new slots.
RING_LUA = """
local STATS_WIDTH, ID_WIDTH, ID_TEXT = 41, 73, 64
local NUL = string.char(0)
local function ring_slots(max_entries)
    local slots = 1024
    while slots < max_entries do
        slots = slots * 2
    end
    return slots
end
local function sized(key, width, slots)
    local size = redis.call('STRLEN', key)
    if size >= slots * width and size % width == 0 then
        return size / width
    end
    local old = ''
    if size % width ~= 0 then
        redis.call('DEL', key)  -- not a ring of this width: its records are unreadable anyway
    elseif size > 0 then
        old = redis.call('GET', key)
    end
    redis.call('SETRANGE', key, slots * width - 1, NUL)  -- Redis fills the new bytes with zeros
    local moved = {}
    for off = 0, #old - width, width do
        local id = struct.unpack('<i8', old, off + 1)
        if id > 0 and (id % slots) * width ~= off then
            moved[#moved + 1] = off
            redis.call('SETRANGE', key, off, string.rep(NUL, width))
        end
    end
    for _, off in ipairs(moved) do
        local id = struct.unpack('<i8', old, off + 1)
        redis.call('SETRANGE', key, (id % slots) * width, string.sub(old, off + 1, off + width))
    end
    return slots
end
-- The request-id record: its length plus one (0: no request id; 255: kept in the fields only,
-- being longer than ID_TEXT or not ASCII, which string.lower cannot fold as Python does).
local function id_record(head, packed)
    local text = string.sub(packed, 2)
    if packed == NUL then
        return head .. string.rep(NUL, ID_TEXT + 1)
    elseif string.sub(packed, 1, 1) == string.char(1) and #text <= ID_TEXT
        and not string.find(text, '[%z\\128-\\255]') then
        return head .. string.char(#text + 1) .. text .. string.rep(NUL, ID_TEXT - #text)
    end
    return head .. string.char(255) .. string.rep(NUL, ID_TEXT)
end
-- Write the records of the consecutive ids first, first + 1, ... with one SETRANGE (two where
-- the ring wraps); each record is `per` strings of `records` (1 when not given).
local function put(key, width, slots, first, records, per)
    per = per or 1
    local count = #records / per
    local i = 1
    while i <= count do
        local slot = (first + i - 1) % slots
        local run = math.min(count - i + 1, slots - slot)
        redis.call('SETRANGE', key, slot * width, table.concat(records, '', (i - 1) * per + 1, (i + run - 1) * per))
        i = i + run
    end
end
-- Empty the slots that still hold the removed ids (ascending; not the slots a later entry
-- took): one GETRANGE and one SETRANGE a run of consecutive ids, all zeros at once when every
-- slot of the run holds its id (the common case).
local function clear(key, width, ids)
    local size = redis.call('STRLEN', key)
    if size == 0 or size % width ~= 0 then
        return
    end
    local slots = size / width
    local i = 1
    while i <= #ids do
        local j = i
        while j < #ids and ids[j + 1] == ids[j] + 1 and ids[j + 1] % slots ~= 0 do
            j = j + 1
        end
        local start = (ids[i] % slots) * width
        local block = redis.call('GETRANGE', key, start, start + (j - i + 1) * width - 1)
        local held = true
        for k = i, j do
            if struct.unpack('<i8', block, (k - i) * width + 1) ~= ids[k] then
                held = false
                break
            end
        end
        if held then
            -- string.rep of one byte adds it a byte at a time: 0.2 ms for 500 records
            redis.call('SETRANGE', key, start, string.rep(string.rep(NUL, width), j - i + 1))
        else
            local zeros, records = string.rep(NUL, width), {}
            for k = i, j do
                local off = (k - i) * width
                if struct.unpack('<i8', block, off + 1) == ids[k] then
                    records[k - i + 1] = zeros
                else
                    records[k - i + 1] = string.sub(block, off + 1, off + width)
                end
            end
            redis.call('SETRANGE', key, start, table.concat(records))
        end
        i = j + 1
    end
end
-- The blocks (their first and last ids) that hold some of these ids (ascending), by the block
-- index (KEYS[10]: member the block's padded last id, score its first): one lookup a block, and
-- one a gap between blocks (ids in no block), not one an id.
local function blocks_of(index, ids)
    local found, i = {}, 1
    while i <= #ids do
        local id, upto = ids[i], nil
        local hit = redis.call('ZREVRANGEBYSCORE', index, id, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
        if #hit > 0 and tonumber(hit[1]) >= id then
            upto = tonumber(hit[1])
            found[#found + 1] = {tonumber(hit[2]), upto}
        else
            local next = redis.call('ZRANGEBYSCORE', index, '(' .. id, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
            upto = #next > 0 and tonumber(next[2]) - 1 or math.huge
        end
        while i <= #ids and ids[i] <= upto do
            i = i + 1
        end
    end
    return found
end
-- Whether any id of first..last is still a member of the sorted set. Members leave in the
-- sorted set's order and a block's share one score, so its last goes last: that one is asked
-- first, the others only once it is gone.
local function any_left(first, last)
    if redis.call('ZSCORE', KEYS[2], string.format('%016d', last)) then
        return true
    end
    for start = first, last - 1, 1000 do
        local chunk = {}
        for id = start, math.min(start + 999, last - 1) do
            chunk[#chunk + 1] = string.format('%016d', id)
        end
        for _, score in ipairs(redis.call('ZMSCORE', KEYS[2], unpack(chunk))) do
            if score then
                return true
            end
        end
    end
    return false
end
-- KEYS as the store's keys: seq, order, entries, fields, stats ring, request-id ring, the
-- previous version's stats and request-id hashes, the blocks and the block index. Called once
-- the members are out of the sorted set: their bodies and fields go (a block's entries have
-- none in the hashes), their ring slots are emptied, and a block none of whose members remain
-- goes too.
local function forget(members)
    local ids, sorted = {}, true
    for i, member in ipairs(members) do
        ids[i] = tonumber(member)
        sorted = sorted and (i == 1 or ids[i] > ids[i - 1])
    end
    if not sorted then  -- the sorted set's order is the ids' but for entries of older times
        table.sort(ids)
    end
    -- The ids in no block (their bodies and fields are in the hashes), and how many of each
    -- block's go now.
    local in_blocks, loose, gone = blocks_of(KEYS[10], ids), members, {}
    if #in_blocks > 0 then
        loose = {}
        local b = 1
        for _, id in ipairs(ids) do
            while b <= #in_blocks and in_blocks[b][2] < id do
                b = b + 1
            end
            if b > #in_blocks or id < in_blocks[b][1] then
                loose[#loose + 1] = string.format('%016d', id)
            else
                gone[b] = (gone[b] or 0) + 1
            end
        end
    end
    if #loose > 0 then
        for _, k in ipairs({3, 4, 7, 8}) do
            if k < 7 or redis.call('EXISTS', KEYS[k]) == 1 then
                redis.call('HDEL', KEYS[k], unpack(loose))
            end
        end
    end
    clear(KEYS[5], STATS_WIDTH, ids)
    clear(KEYS[6], ID_WIDTH, ids)
    for b, block in ipairs(in_blocks) do
        if gone[b] == block[2] - block[1] + 1 or not any_left(block[1], block[2]) then
            local member = string.format('%016d', block[2])
            redis.call('HDEL', KEYS[9], member)
            redis.call('ZREM', KEYS[10], member)
        end
    end
end
-- Remove the oldest entries past max_entries (the sorted set's first), up to 1,000 a step.
local function trim_to(max_entries)
    local excess = redis.call('ZCARD', KEYS[2]) - max_entries
    while excess > 0 do
        local step = math.min(excess, 1000)
        local oldest = redis.call('ZRANGE', KEYS[2], 0, step - 1)
        redis.call('ZREMRANGEBYRANK', KEYS[2], 0, step - 1)
        forget(oldest)
        excess = excess - step
    end
end
"""

# KEYS: the store's keys (RING_LUA), then the phrase book. ARGV: max_entries, the phrase book's
# token the bodies' phrase numbers belong to ('' when none does), then the batch in three
# arguments (not four an entry: each argument costs the client and Redis about a microsecond):
# the entries' APPEND_RECORDs (epoch ms, 1 when the body's wording is phrase numbers, STATS,
# the request id's ring record: ID_RECORD less the id), their JSON bodies without id, and their
# summary fields as JSON without id, each list cut by SEPARATOR (",\n,": JSON as orjson writes
# it holds no line feed). The id is spliced in as the first key so each body is
# self-describing; a body whose wording is phrase numbers is kept as a JSON list of one object,
# [{"id": ...}] (PHRASE_SCRIPT). A phrase book that is not the one the numbers belong to (Redis
# restarted empty meanwhile): nothing is written, the error PHRASES. One ZADD and one HSET a
# hash, and one SETRANGE a ring, for up to 1,000 entries (unpack() takes a few thousand values
# at most, hence the chunks).
APPEND_SCRIPT = (
    RING_LUA
    + """
if ARGV[2] ~= '' and redis.call('HGET', KEYS[11], '0') ~= ARGV[2] then
    return redis.error_reply('PHRASES the phrase book changed')
end
local RECORD, STATS_END = 107, 42
local records, bodies, summaries = ARGV[3], ARGV[4], ARGV[5]
local count = #records / RECORD
local last = redis.call('INCRBY', KEYS[1], count)
local first = last - count + 1
local slots = ring_slots(tonumber(ARGV[1]))
local stats_slots = sized(KEYS[5], STATS_WIDTH, slots)
local id_slots = sized(KEYS[6], ID_WIDTH, slots)
-- The JSON object that starts at `from` in `text` (up to the next SEPARATOR), with `head` as
-- its first key, inside [] when `packed`; and where the next one starts.
local function with_id(head, text, from, packed)
    local stop = (string.find(text, ',\\n,', from, true) or #text + 1) - 1
    local json = string.sub(text, from + 1, stop)
    local comma = stop > from + 1 and ',' or ''
    if packed == 1 then
        return '[' .. head .. comma .. json .. ']', stop + 4
    end
    return head .. comma .. json, stop + 4
end
local at_body, at_summary = 1, 1
for start = 1, count, 1000 do
    local order, bodies_, fields, stats, ids = {}, {}, {}, {}, {}
    local n, r = 0, 0
    for i = start, math.min(start + 999, count) do
        local id = first + i - 1
        local member = string.format('%016d', id)
        local head = '{"id":' .. string.format('%d', id)
        local off = (i - 1) * RECORD
        local ms, packed = struct.unpack('<i8B', records, off + 1)
        local binary = struct.pack('<i8', id)
        order[n + 1], order[n + 2] = ms, member
        bodies_[n + 1], fields[n + 1] = member, member
        bodies_[n + 2], at_body = with_id(head, bodies, at_body, packed)
        fields[n + 2], at_summary = with_id(head, summaries, at_summary, 0)
        n = n + 2
        r = r + 1
        stats[r] = binary .. string.sub(records, off + 10, off + STATS_END)
        ids[r] = binary .. string.sub(records, off + STATS_END + 1, off + RECORD)
    end
    redis.call('ZADD', KEYS[2], unpack(order))
    redis.call('HSET', KEYS[3], unpack(bodies_))
    redis.call('HSET', KEYS[4], unpack(fields))
    put(KEYS[5], STATS_WIDTH, stats_slots, first + start - 1, stats)
    put(KEYS[6], ID_WIDTH, id_slots, first + start - 1, ids)
end
trim_to(tonumber(ARGV[1]))
return last
"""
)

# KEYS and the first two ARGV as APPEND_SCRIPT's; then a block's JSON (blocks.py) and its
# entries' APPEND_RECORDs (their flag unused). The entries take consecutive ids, each its member
# of the sorted set and its ring records as APPEND_SCRIPT would give it; the block is stored once,
# under its last id in the blocks hash (KEYS[9]) and the block index (KEYS[10], scored by its
# first id), and nothing goes into the entries and fields hashes. Trimmed as APPEND_SCRIPT does.
BLOCK_SCRIPT = (
    RING_LUA
    + """
if ARGV[2] ~= '' and redis.call('HGET', KEYS[11], '0') ~= ARGV[2] then
    return redis.error_reply('PHRASES the phrase book changed')
end
local RECORD, STATS_END = 107, 42
local records = ARGV[4]
local count = #records / RECORD
local last = redis.call('INCRBY', KEYS[1], count)
local first = last - count + 1
local slots = ring_slots(tonumber(ARGV[1]))
local stats_slots = sized(KEYS[5], STATS_WIDTH, slots)
local id_slots = sized(KEYS[6], ID_WIDTH, slots)
local ms = struct.unpack('<i8', records, 1)  -- a block's entries share their time
local sub, pack, format = string.sub, struct.pack, string.format
for start = 1, count, 1000 do
    local order, stats, ids = {}, {}, {}
    local n = 0
    for i = start, math.min(start + 999, count) do
        local id = first + i - 1
        local off = (i - 1) * RECORD
        local binary = pack('<i8', id)
        n = n + 2
        order[n - 1], order[n] = ms, format('%016d', id)
        stats[n - 1], stats[n] = binary, sub(records, off + 10, off + STATS_END)
        ids[n - 1], ids[n] = binary, sub(records, off + STATS_END + 1, off + RECORD)
    end
    redis.call('ZADD', KEYS[2], unpack(order))
    put(KEYS[5], STATS_WIDTH, stats_slots, first + start - 1, stats, 2)
    put(KEYS[6], ID_WIDTH, id_slots, first + start - 1, ids, 2)
end
local member = string.format('%016d', last)
redis.call('HSET', KEYS[9], member, ARGV[3])
redis.call('ZADD', KEYS[10], first, member)
trim_to(tonumber(ARGV[1]))
return last
"""
)


# KEYS: the store's keys (RING_LUA). ARGV: ids, ascending. The blocks that hold some of them:
# {first id, last id, block JSON, ...}, looked up and read at once (a trim between the two cannot part them).
BLOCKS_SCRIPT = (
    RING_LUA
    + """
local ids = {}
for i, id in ipairs(ARGV) do
    ids[i] = tonumber(id)
end
local found = {}
for _, block in ipairs(blocks_of(KEYS[10], ids)) do
    found[#found + 1] = block[1]
    found[#found + 1] = block[2]
    found[#found + 1] = redis.call('HGET', KEYS[9], string.format('%016d', block[2]))
end
return found
"""
)

# KEYS: the phrase book (number -> a phrase's JSON; field 0: the book's token), its index (JSON
# -> number). ARGV: a token for a new book, then phrases' JSON. Their numbers, new phrases added:
# {the book's token, numbers...}. The token tells a book from the one a Redis that restarted empty
# lost (their numbers differ), so that no process writes or reads numbers of a lost book.
PHRASE_SCRIPT = """
if redis.call('HSETNX', KEYS[1], '0', ARGV[1]) == 1 then
    redis.call('DEL', KEYS[2])
end
local found = {redis.call('HGET', KEYS[1], '0')}
for i = 2, #ARGV do
    local number = redis.call('HGET', KEYS[2], ARGV[i])
    if not number then
        number = redis.call('HLEN', KEYS[1])
        redis.call('HSET', KEYS[1], number, ARGV[i])
        redis.call('HSET', KEYS[2], ARGV[i], number)
    end
    found[i] = tonumber(number)
end
return found
"""

# KEYS: the store's keys (RING_LUA). ARGV: max_entries, an HSCAN cursor of the previous
# version's stats hash. Moves up to about 1,000 of its entries still in the log into the rings
# (where their slots are free) and out of the hashes; returns the next cursor (0: done).
MIGRATE_SCRIPT = (
    RING_LUA
    + """
local slots = ring_slots(tonumber(ARGV[1]))
local stats_slots = sized(KEYS[5], STATS_WIDTH, slots)
local id_slots = sized(KEYS[6], ID_WIDTH, slots)
local scan = redis.call('HSCAN', KEYS[7], ARGV[2], 'COUNT', 1000)
local found, moved = scan[2], {}
for i = 1, #found, 2 do
    local member, stats = found[i], found[i + 1]
    local id = tonumber(member)
    if id and #stats == 33 and redis.call('ZSCORE', KEYS[2], member) then
        local at, id_at = (id % stats_slots) * STATS_WIDTH, (id % id_slots) * ID_WIDTH
        local taken = struct.unpack('<i8', redis.call('GETRANGE', KEYS[5], at, at + 7))
        local id_taken = struct.unpack('<i8', redis.call('GETRANGE', KEYS[6], id_at, id_at + 7))
        if taken == 0 and id_taken == 0 then
            local binary = struct.pack('<i8', id)
            redis.call('SETRANGE', KEYS[5], at, binary .. stats)
            redis.call('SETRANGE', KEYS[6], id_at, id_record(binary, redis.call('HGET', KEYS[8], member) or ''))
            moved[#moved + 1] = member
        end
    end
end
if #moved > 0 then
    redis.call('HDEL', KEYS[7], unpack(moved))
    redis.call('HDEL', KEYS[8], unpack(moved))
end
return scan[1]
"""
)

# Lua for the scripts that read the rings: the record (after its 8-byte id) of entry `id` in a
# ring of records `width` bytes wide, or nil when its slot holds another entry or none.
RING_RECORD = """
local function ring_record(ring, width, id)
    local slots = math.floor(#ring / width)
    if not id or slots == 0 then
        return nil
    end
    local off = (id % slots) * width
    if struct.unpack('<i8', ring, off + 1) ~= id then
        return nil
    end
    return string.sub(ring, off + 9, off + width)
end
"""

# KEYS: order, stats ring. ARGV: highest score, lowest score, offset, how many. Those members of
# the window newest first with their stats (false where the ring has none): read by Redis itself,
# so that no command carries thousands of members from Python; WINDOW_CHUNK at a time, so that no
# call blocks Redis for long.
WINDOW_SCRIPT = (
    RING_RECORD
    + """
local members = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', ARGV[3], ARGV[4])
local ring = redis.call('GET', KEYS[2]) or ''
local stats = {}
for i, member in ipairs(members) do
    stats[i] = ring_record(ring, 41, tonumber(member)) or false
end
return {members, stats}
"""
)

# KEYS: order, stats ring, request-id ring. ARGV: highest score, lowest score, offset, how many,
# then the filters ('' when not set): level (LEVELS' index, OTHER_LEVEL for another),
# prediction, lowest probability, highest probability, "1" for a request-id search, its needle in
# lower case. Like WINDOW_SCRIPT, but Redis applies the filters to the records itself and returns
# only the members that match or that it cannot decide, so no Python loop runs per entry:
# {members scanned, those members, a flag each ("1" matches; "?" undecided, stats read; "!"
# undecided, no stats), their stats concatenated (33 zero bytes where none)}. Undecided: no
# record (an entry of a previous version, or one trimmed meantime), a level other than LEVELS
# under a level filter (LogQuery.matches compares text), a request id kept only in the fields
# (ID_RECORD's UNKNOWN_ID): Python decides those from the fields.
FILTER_SCRIPT = (
    RING_RECORD
    + """
local members = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', ARGV[3], ARGV[4])
local level, prediction = tonumber(ARGV[5]), tonumber(ARGV[6])
local lowest, highest = tonumber(ARGV[7]), tonumber(ARGV[8])
local search, needle = ARGV[9] == '1', ARGV[10]
local none = string.rep(string.char(0), 33)
local ring = redis.call('GET', KEYS[2]) or ''
local id_ring = search and redis.call('GET', KEYS[3]) or ''
local kept, flags, stats = {}, {}, {}
for _, member in ipairs(members) do
    local id, flag = tonumber(member), '1'
    local raw = ring_record(ring, 41, id)
    if raw then
        local _, p, probability, _, l = struct.unpack('<ddddB', raw)
        if level then
            if l == 2 then
                flag = '?'
            elseif l ~= level then
                flag = nil
            end
        end
        if flag and prediction and p ~= prediction then
            flag = nil
        end
        if flag and lowest and not (probability >= lowest) then
            flag = nil
        end
        if flag and highest and not (probability <= highest) then
            flag = nil
        end
    else
        flag = '!'
    end
    if flag and search then
        local record, length, text = ring_record(id_ring, 73, id), nil, nil
        if record then
            length = string.byte(record, 1)
            text = string.sub(record, 2, length)
        end
        if length == nil or length == 255 then
            if flag == '1' then
                flag = '?'
            end
        elseif length == 0 or not string.find(string.lower(text), needle, 1, true) then
            flag = nil
        end
    end
    if flag then
        kept[#kept + 1] = member
        flags[#flags + 1] = flag
        stats[#stats + 1] = raw or none
    end
end
return {#members, kept, table.concat(flags), table.concat(stats)}
"""
)

# KEYS: the store's keys (RING_LUA). ARGV: the cutoff score (exclusive), how many at most.
# Entries at score 0 (no usable timestamp) have no known age and stay.
TRIM_SCRIPT = (
    RING_LUA
    + """
local oldest = redis.call('ZRANGEBYSCORE', KEYS[2], '(0', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #oldest == 0 then
    return 0
end
redis.call('ZREM', KEYS[2], unpack(oldest))
forget(oldest)
return #oldest
"""
)
