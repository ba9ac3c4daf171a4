-- A long stream (>= 10 s of token-sized deltas) while the user types, key by key, on a new line
-- at the top of the file: every typed character is kept, the rewrite lands exactly below it, and
-- the typing really happened during the stream (the job was still running when it ended).
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({})
H.run(function()
  local bufnr = H.open(case.file)
  local source = H.read(case.file)
  local results = H.job_results()
  H.keys(('%dGV%dG:ResponsesAction refactor-to-async<CR>'):format(case.first, case.last))
  H.wait('the first streamed edits', function()
    return H.text(bufnr) ~= source
  end)
  H.sleep(1000)
  H.keys('ggO')
  for i = 1, #case.typed do
    H.keys(case.typed:sub(i, i))
    H.sleep(80)
  end
  H.keys('<Esc>')
  H.check('still streaming when the typing ended', #results, 0)
  H.wait('the job to finish', function()
    return #results > 0
  end, 40000)
  H.wait('the final text', function()
    return H.text(bufnr) == H.read('expected.txt')
  end, 3000)
  H.check('outcome', results[1].result.outcome, 'applied')
  H.check('buffer text', H.text(bufnr), H.read('expected.txt'))
end, 55000)
