package api

func (s *Server) docRoutes() []Route {
	return nil
}
